"""A route that FastAPI describes like any other (its operation in the OpenAPI, its guard found by the edge)
but serves without solving dependencies: the endpoint gets the request and its guard's decision directly.

For `POST /v1/tasks`, which answers thousands of 429s a second under a flood (ORCH-9206): FastAPI's
dependency solving and parameter handling cost about as much as admission itself there, while the route's
only dependency is its guard, already decided by the edge before the body was read (ORCH-1008). The
streaming routes (`GET /v1/tasks/{id}/stream`, the OpenAI facade) are served so too, for the time before
their first token: their endpoints read the parameters the operation declares from the request themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from .security import Guard

T = TypeVar("T")
Endpoint = Callable[[Request, T], Awaitable[Response]]


def explicit_route(guard: Guard[T], endpoint: Endpoint[T], *, parses: Collection[str] = ()) -> type[APIRoute]:
    """An APIRoute class serving `endpoint(request, guard's decision)`.

    The route's declared dependencies must be exactly `guard`, and the parameters it declares (path, query,
    header, cookie and body, each by the name the request carries it under) exactly `parses`, those that
    `endpoint` reads from the request itself: a TypeError at start-up otherwise, so nothing FastAPI would
    run or validate is skipped silently.
    """
    parsed = sorted(parses)

    async def handler(request: Request) -> Response:
        return await endpoint(request, guard.decide(request.scope))

    class ExplicitRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            declared = [dependency.call for dependency in self.dependant.dependencies]
            if declared != [guard]:
                raise TypeError(f"{self.path}: an explicit route depends on its guard only, not {declared}")
            params = _declared_params(self.dependant)
            if params != parsed:
                raise TypeError(f"{self.path}: the route declares {params}, its endpoint parses {parsed}")
            return handler

    return ExplicitRoute


def _declared_params(dependant: Dependant) -> list[str]:
    """The names of the route's own parameters, sorted (its guard's are the guard's business)."""
    fields = (
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.cookie_params,
        *dependant.body_params,
    )
    return sorted(field.alias for field in fields)
