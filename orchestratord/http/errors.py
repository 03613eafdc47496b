"""The one place errors become HTTP responses: every non-2xx body is the envelope (ORCH-1201, ORCH-1203)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from orchestrator_core.errors import Internal, InvalidParams, NotFound, OrchError, PayloadTooLarge

from .correlation import correlation_id
from .envelope import envelope_response

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


async def _orch_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, OrchError):  # pragma: no cover - registered for OrchError only
        raise exc
    return envelope_response(exc, correlation_id(request.scope))


async def _validation_error(request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    error = InvalidParams(describe_validation_errors(errors) or "invalid request")
    return envelope_response(error, correlation_id(request.scope))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = str(exc.detail) if isinstance(exc, HTTPException) else "error"
    error: OrchError
    if status == 404:
        error = NotFound(f"no route for {request.method} {request.url.path}")
    elif status == 413:
        error = PayloadTooLarge("body is larger than the configured limit")
    elif status == 405:
        error = InvalidParams(f"method {request.method} is not allowed on {request.url.path}")
    elif status < 500:
        error = InvalidParams("malformed request body" if "body" in detail else detail)
    else:
        error = Internal("internal error")
    return envelope_response(error, correlation_id(request.scope), status_code=status)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error", exc_info=exc, extra={"correlation_id": correlation_id(request.scope)})
    return envelope_response(Internal("internal error"), correlation_id(request.scope))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every failure as the envelope."""
    app.add_exception_handler(OrchError, _orch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
