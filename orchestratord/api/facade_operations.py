"""How a foreign-API POST is declared to FastAPI and served (OpenAI's and Anthropic's routes).

Each is described as usual, a body model and the `X-Orch-*` headers, so the OpenAPI document lists it, but
served by `explicit_route` without FastAPI's dependency solving: the serving function reads what the
declaration lists (the body first, then the headers, in FastAPI's order).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from ..http.explicit_route import explicit_route
from ..http.security import Guard, Principal
from .openai_requests import DETERMINISM_HEADER, PRIORITY_HEADER, SESSION_HEADER

PriorityHeader = Annotated[str | None, Header(alias=PRIORITY_HEADER)]
SessionHeader = Annotated[str | None, Header(alias=SESSION_HEADER)]
DeterminismHeader = Annotated[str | None, Header(alias=DETERMINISM_HEADER)]
FACADE_PARAMS = ("body", PRIORITY_HEADER, SESSION_HEADER, DETERMINISM_HEADER)
Serve = Callable[[Request, Principal], Awaitable[Response]]


def add_operation(
    router: APIRouter,
    path: str,
    operation_id: str,
    body_model: type[BaseModel],
    guard: Guard[Principal],
    serve: Serve,
) -> None:
    """Declares `POST path` with `body_model` and the facade headers, served by `serve`."""

    async def declared(
        body: Any,
        principal: Principal = Depends(guard),
        priority: PriorityHeader = None,
        session_id: SessionHeader = None,
        determinism: DeterminismHeader = None,
    ) -> Response:
        raise NotImplementedError  # the operation as the OpenAPI document lists it; never called

    declared.__annotations__["body"] = body_model
    route = explicit_route(guard, serve, parses=FACADE_PARAMS)
    router.add_api_route(
        path, declared, methods=["POST"], operation_id=operation_id, route_class_override=route
    )
