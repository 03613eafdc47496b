"""A route that FastAPI describes like any other (its operation in the OpenAPI, its guard found by the edge)
but serves without solving dependencies: the endpoint gets the request and its guard's decision directly.

For `POST /v1/tasks`, which answers thousands of 429s a second under a flood (ORCH-9206): FastAPI's
dependency solving and parameter handling cost about as much as admission itself there, while the route's
only dependency is its guard, already decided by the edge before the body was read (ORCH-1008).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from .security import Guard

T = TypeVar("T")
Endpoint = Callable[[Request, T], Awaitable[Response]]


def explicit_route(guard: Guard[T], endpoint: Endpoint[T]) -> type[APIRoute]:
    """An APIRoute class serving `endpoint(request, guard's decision)`; the route's declared dependencies
    must be exactly `guard` (a TypeError at start-up otherwise), so nothing FastAPI would run is skipped."""

    async def handler(request: Request) -> Response:
        return await endpoint(request, guard.decide(request.scope))

    class ExplicitRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            declared = [dependency.call for dependency in self.dependant.dependencies]
            if declared != [guard]:
                raise TypeError(f"{self.path}: an explicit route depends on its guard only, not {declared}")
            return handler

    return ExplicitRoute
