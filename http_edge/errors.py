"""The one place errors become HTTP responses: every non-2xx body is the envelope (ORCH-1201, ORCH-1203)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from orchestrator_core.errors import (
    Internal,
    InvalidParams,
    MethodNotAllowed,
    NotFound,
    OrchError,
    PayloadTooLarge,
)

from .correlation import correlation_id
from .envelope import envelope_response
from .error_shapes import ErrorShapes
from .middleware import Refused

logger = logging.getLogger(__name__)


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """`field: problem` for each error, with the field path as dotted text (body prefix dropped)."""
    parts: list[str] = []
    for error in errors[:5]:
        location = [str(item) for item in error.get("loc", ()) if item not in ("body",)]
        field = ".".join(location) or "body"
        kind = error.get("type", "")
        message = "unknown field" if kind == "extra_forbidden" else error.get("msg", "invalid")
        if kind == "json_invalid":
            field, message = "body", "malformed JSON"
        elif "required property group" in str(message):
            field, message = "prompt/messages", "exactly one of prompt and messages is required"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def _validation_error(exc: Exception) -> OrchError:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return InvalidParams(describe_validation_errors(errors) or "invalid request")


class AllowedMethods:
    """The methods served on a path, from the app's own operations; the method list is built on first use,
    when every router is included. Starlette's own `Allow` names only the first route that matched the
    path. Each method is checked by the app's routes themselves, so a path parameter's convertor that
    refuses a segment (`/v1/nodes/register` is no node id) also keeps that route's methods out."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._methods: frozenset[str] | None = None

    def __call__(self, path: str) -> list[str]:
        if self._methods is None:
            paths: dict[str, dict[str, Any]] = self._app.openapi().get("paths", {})
            self._methods = frozenset(
                method.upper() for operations in paths.values() for method in operations
            )
        return sorted(method for method in self._methods if self._serves(path, method))

    def _serves(self, path: str, method: str) -> bool:
        scope = {"type": "http", "path": path, "root_path": "", "method": method}
        return any(route.matches(scope)[0] is Match.FULL for route in self._app.router.routes)


def method_not_allowed(request: Request, allowed: AllowedMethods, shapes: ErrorShapes) -> Response:
    """405 with the envelope and the `Allow` header (ORCH-1082)."""
    path = request.url.path
    allow = ", ".join(allowed(path))
    error = MethodNotAllowed(f"method {request.method} is not allowed on {path}; use {allow}")
    cid = correlation_id(request.scope)
    return envelope_response(error, cid, headers={"Allow": allow}, shape=shapes.body_for(path))


def _http_error(request: Request, exc: Exception) -> OrchError:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = str(exc.detail) if isinstance(exc, HTTPException) else "error"
    if status == 404:
        return NotFound(f"no route for {request.method} {request.url.path}")
    if status == 413:
        return PayloadTooLarge("body is larger than the configured limit")
    if status < 500:
        return InvalidParams("malformed request body" if "body" in detail else detail)
    return Internal("internal error")


def install_error_handlers(
    app: FastAPI, refusals: Refused | None = None, shapes: ErrorShapes | None = None
) -> None:
    """Register the handlers that render every failure as the envelope (or the shape `shapes` gives the
    path); `refusals` sees each error answered (orchestratord counts the ones that refuse a task
    submission before admission ran)."""
    allowed = AllowedMethods(app)
    by_path = shapes or ErrorShapes()

    def render(request: Request, error: OrchError, status_code: int | None = None) -> Response:
        if refusals is not None:
            refusals(request.scope, error)
        shape = by_path.body_for(request.url.path)
        return envelope_response(error, correlation_id(request.scope), status_code=status_code, shape=shape)

    async def orch_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, OrchError):  # pragma: no cover - registered for OrchError only
            raise exc
        return render(request, exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        return render(request, _validation_error(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            return method_not_allowed(request, allowed, by_path)
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return render(request, _http_error(request, exc), status)

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error", exc_info=exc, extra={"correlation_id": correlation_id(request.scope)})
        return render(request, Internal("internal error"))

    app.add_exception_handler(OrchError, orch_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
