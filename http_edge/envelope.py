"""Render an OrchError as the contract's error envelope (ORCH-1201, ORCH-1204)."""

from __future__ import annotations

import math

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

from orchestrator_core.errors import Backpressure, OrchError, Unauthorized

from .correlation import HEADER as CORRELATION_HEADER
from .error_shapes import ErrorBody, envelope_body

DEFAULT_BACKOFF_MS = 1000
_JSON = (b"content-type", b"application/json")
_CORRELATION = CORRELATION_HEADER.encode()
_WWW_AUTHENTICATE = (b"www-authenticate", b"Bearer")


def retry_after(error: OrchError) -> int | None:
    """The retry delay an answer states: the error's own, else the default for a 429 or a 503."""
    if error.retry_after_ms is None and _says_when(error):
        return DEFAULT_BACKOFF_MS
    return error.retry_after_ms


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
    shape: ErrorBody = envelope_body,
) -> Response:
    """A JSON response carrying the envelope, the correlation header, `WWW-Authenticate` for 401
    (ORCH-1207) and, for a 429 or a 503, the backoff headers; `shape` builds the body (ORCH-1064)."""
    retry_after_ms = retry_after(error)
    encoded = orjson.dumps(shape(error, correlation_id, retry_after_ms))
    raw = [(b"content-length", str(len(encoded)).encode()), _JSON, (_CORRELATION, correlation_id.encode())]
    if isinstance(error, Unauthorized):
        raw.append(_WWW_AUTHENTICATE)
    extra = dict(headers or {})
    if _says_when(error):
        extra |= backoff_headers(retry_after_ms if retry_after_ms is not None else DEFAULT_BACKOFF_MS)
    raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    return EnvelopeResponse(encoded, status_code or error.http_status, raw)
