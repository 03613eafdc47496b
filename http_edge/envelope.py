"""Render an OrchError as the contract's error envelope (ORCH-1201, ORCH-1204)."""

from __future__ import annotations

import math

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

from orchestrator_core.errors import Backpressure, OrchError, Unauthorized

from .correlation import HEADER as CORRELATION_HEADER

DEFAULT_BACKOFF_MS = 1000
_JSON = (b"content-type", b"application/json")
_CORRELATION = CORRELATION_HEADER.encode()
_WWW_AUTHENTICATE = (b"www-authenticate", b"Bearer")


def envelope_body(error: OrchError, correlation_id: str) -> dict[str, object]:
    """The envelope as a plain dict; optional fields are left out when unset."""
    body: dict[str, object] = {
        "code": error.code,
        "message": error.message,
        "retriable": error.is_retriable,
        "correlation_id": correlation_id,
    }
    retry_after_ms = error.retry_after_ms
    if _says_when(error) and retry_after_ms is None:
        retry_after_ms = DEFAULT_BACKOFF_MS
    optional = {
        "engine": error.engine,
        "pool_id": error.pool_id,
        "retry_after_ms": retry_after_ms,
        "policy_label": error.policy_label,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


def _says_when(error: OrchError) -> bool:
    """A 429, and any 503 (nothing can serve now, RFC 9110's Retry-After use), tells when to retry."""
    return isinstance(error, Backpressure) or error.http_status == 503


def backoff_headers(retry_after_ms: int) -> dict[str, str]:
    """Retry-After in whole seconds (at least 1) and the exact X-Backoff-Ms."""
    seconds = max(1, math.ceil(retry_after_ms / 1000))
    return {"Retry-After": str(seconds), "X-Backoff-Ms": str(max(0, retry_after_ms))}


class EnvelopeResponse(Response):
    """A finished envelope: body and raw headers are set as given, without Starlette's header
    normalisation, because every header here is built by this module (a 429 under a flood is rendered
    thousands of times a second)."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.body = body
        self.status_code = status_code
        self.background: BackgroundTask | None = None
        self.raw_headers = raw_headers


def envelope_response(
    error: OrchError,
    correlation_id: str,
    *,
    status_code: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON response carrying the envelope, the correlation header, `WWW-Authenticate` for 401
    (ORCH-1207) and, for a 429 or a 503, the backoff headers."""
    body = envelope_body(error, correlation_id)
    encoded = orjson.dumps(body)
    raw = [(b"content-length", str(len(encoded)).encode()), _JSON, (_CORRELATION, correlation_id.encode())]
    if isinstance(error, Unauthorized):
        raw.append(_WWW_AUTHENTICATE)
    extra = dict(headers or {})
    if _says_when(error):
        retry_after = body["retry_after_ms"]
        extra |= backoff_headers(retry_after if isinstance(retry_after, int) else DEFAULT_BACKOFF_MS)
    raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    return EnvelopeResponse(encoded, status_code or error.http_status, raw)
