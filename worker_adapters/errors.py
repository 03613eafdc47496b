"""The boundary where httpx and engine failures become the typed errors of OrchQueue (ORCH-7004).

Nothing outside this module catches httpx exceptions (the probes' client); the engine stream client raises
typed errors itself. Engine bodies are parsed leniently: llama.cpp
and vLLM nest `{"error": {"message": ...}}`, TGI and Triton send `{"error": "..."}`, older vLLM a flat
`{"message": ...}`, and a crashing llama.cpp may answer with plain text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson

from orchestrator_core.errors import (
    DecodeTimeout,
    Internal,
    InvalidParams,
    OrchError,
    PoolUnavailable,
)

_MAX_MESSAGE = 500


def body_message(body: bytes) -> str:
    """The human-readable message of an engine error body, JSON or plain text."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip()[:_MAX_MESSAGE] or "(empty body)"
    return payload_message(parsed)


def payload_message(payload: object) -> str:
    """The message inside a parsed error payload of any of the four engines."""
    if isinstance(payload, dict):
        inner = payload.get("error", payload)
        if isinstance(inner, str):
            return inner[:_MAX_MESSAGE]
        if isinstance(inner, dict) and "message" in inner:
            return str(inner["message"])[:_MAX_MESSAGE]
        if "message" in payload:
            return str(payload["message"])[:_MAX_MESSAGE]
    return str(payload)[:_MAX_MESSAGE]


def payload_status(payload: object) -> int | None:
    """The HTTP-like status code an error payload names, if any (`code` or `http_status_code`)."""
    if isinstance(payload, dict):
        inner = payload.get("error")
        if isinstance(inner, dict):
            for key in ("code", "http_status_code"):
                value = inner.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
    return None


def error_for_status(status: int, message: str, engine: str) -> OrchError:
    """The typed error for an engine's non-2xx answer."""
    text = f"{engine} answered {status}: {message}"
    if status in (400, 422):
        return InvalidParams(text, engine=engine)
    if status in (429, 503):
        # 503 while loading (llama.cpp) or an overloaded/unhealthy engine: retry elsewhere or later.
        return PoolUnavailable(text, engine=engine)
    return Internal(text, engine=engine)


def error_from_response(response: httpx.Response, body: bytes, engine: str) -> OrchError:
    """The typed error for a non-2xx response whose body was read."""
    return error_for_status(response.status_code, body_message(body), engine)


def error_from_event(payload: object, engine: str) -> OrchError:
    """The typed error for an error event inside a 200 stream."""
    message = payload_message(payload)
    status = payload_status(payload)
    if status is not None and status != 500:
        return error_for_status(status, message, engine)
    return Internal(f"{engine} stream error: {message}", engine=engine)


def error_from_transport(exc: httpx.HTTPError, engine: str) -> OrchError:
    """The typed error for a transport failure of a probe or scrape."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return PoolUnavailable(f"{engine} unreachable: {name}: {exc}", engine=engine)
    if isinstance(exc, httpx.ReadTimeout):
        return DecodeTimeout(f"{engine} sent nothing within the read timeout", engine=engine)
    if isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError | httpx.WriteError):
        return PoolUnavailable(f"{engine} dropped the connection: {name}: {exc}", engine=engine)
    return Internal(f"{engine} transport failure: {name}: {exc}", engine=engine)


@contextmanager
def transport_errors(engine: str) -> Iterator[None]:
    """Re-raise httpx failures inside the block as typed errors."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise error_from_transport(exc, engine) from exc
