"""Render an OrchError as the contract's error envelope (ORCH-1201, ORCH-1204)."""

from __future__ import annotations

import math

import orjson
from starlette.responses import Response

from orchestrator_core.errors import Backpressure, OrchError, Unauthorized

from .correlation import HEADER as CORRELATION_HEADER

DEFAULT_BACKOFF_MS = 1000


def envelope_body(error: OrchError, correlation_id: str) -> dict[str, object]:
    """The envelope as a plain dict; optional fields are left out when unset."""
    body: dict[str, object] = {
        "code": error.code,
        "message": error.message,
        "retriable": error.is_retriable,
        "correlation_id": correlation_id,
    }
    retry_after_ms = error.retry_after_ms
    if isinstance(error, Backpressure) and retry_after_ms is None:
        retry_after_ms = DEFAULT_BACKOFF_MS
    optional = {
        "engine": error.engine,
        "pool_id": error.pool_id,
        "retry_after_ms": retry_after_ms,
        "policy_label": error.policy_label,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def backoff_headers(retry_after_ms: int) -> dict[str, str]:
    """Retry-After in whole seconds (at least 1) and the exact X-Backoff-Ms."""
    seconds = max(1, math.ceil(retry_after_ms / 1000))
    return {"Retry-After": str(seconds), "X-Backoff-Ms": str(max(0, retry_after_ms))}


def envelope_response(
    error: OrchError,
    correlation_id: str,
    *,
    status_code: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON response carrying the envelope, the correlation header, `WWW-Authenticate` for 401
    (ORCH-1207) and, for 429, the backoff headers."""
    body = envelope_body(error, correlation_id)
    headers = {CORRELATION_HEADER: correlation_id, **(headers or {})}
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, Backpressure):
        retry_after = body["retry_after_ms"]
        headers.update(backoff_headers(retry_after if isinstance(retry_after, int) else DEFAULT_BACKOFF_MS))
    return Response(
        content=orjson.dumps(body),
        status_code=status_code or error.http_status,
        media_type="application/json",
        headers=headers,
    )
