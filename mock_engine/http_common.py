"""Small helpers shared by the wire emulations: JSON bodies, SSE framing and closing streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from mock_engine.engine import ContextExceeded, EngineLoading, MockEngine
from mock_engine.job import MockJob

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class BadBody(Exception):
    """Raised when a request body is not the JSON object a wire expects."""


def json_response(payload: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A compact JSON response."""
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def text_response(text: str, status: int, media_type: str = "text/plain") -> Response:
    """A plain-text response (used for crash-like errors and metrics)."""
    return Response(text, status_code=status, media_type=media_type)


def empty_response(status: int) -> Response:
    """A response with no body, as vLLM, TGI and Triton send for health probes."""
    return Response(b"", status_code=status)


async def read_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or BadBody."""
    try:
        payload = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"invalid JSON body: {exc}") from exc
    if not isinstance(payload, dict):
        raise BadBody("the body must be a JSON object")
    return payload


def sse(payload: object, *, space: bool = True) -> bytes:
    """One SSE event carrying a JSON payload."""
    return (b"data: " if space else b"data:") + orjson.dumps(payload) + b"\n\n"


class ClosingStream(StreamingResponse):
    """A streaming response that closes its generator however the response ends.

    Starlette cancels the body on client disconnect but leaves the generator suspended; closing it at
    once releases the emulated slot, as a real engine does when the client goes away.
    """

    def __init__(self, chunks: AsyncGenerator[bytes, None], media_type: str = "text/event-stream") -> None:
        super().__init__(chunks, media_type=media_type, headers=SSE_HEADERS)
        self._chunks = chunks

    async def stream_response(self, send: Send) -> None:
        """Stream the chunks, then close the generator."""
        async with aclosing(self._chunks):
            await super().stream_response(send)


def field_int(body: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    """An optional integer field; BadBody names the field when it has another type."""
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadBody(f"Field '{name}': type must be number, but is {type(value).__name__}")
    return value


def field_stop(body: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A stop field given as a string or a list of strings."""
    value = body.get(name) or ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(s, str) for s in value):
        raise BadBody(f"Field '{name}': must be a string or a list of strings")
    return tuple(s for s in value if s)


def field_str(body: Mapping[str, Any], name: str) -> str:
    """A required string field."""
    value = body.get(name)
    if not isinstance(value, str):
        raise BadBody(f"Field '{name}': a string is required")
    return value


ErrorRenderer = Callable[[int, str], Response]


def refusal(
    engine: MockEngine, job: MockJob, error: ErrorRenderer, invalid_status: int = 400
) -> Response | None:
    """The answer to a generate request the engine turns down before streaming, or None to stream."""
    faults = engine.faults
    if faults.fail_status is not None:
        if faults.fail_plain:
            return text_response("terminate called after throwing an instance of 'std::runtime_error'", 500)
        return error(faults.fail_status, "injected failure")
    if faults.dead:
        return error(500, "engine is dead")
    try:
        engine.admit(job.prompt_tokens, job.max_tokens)
    except EngineLoading as exc:
        return error(503, str(exc))
    except ContextExceeded as exc:
        return error(invalid_status, str(exc))
    return None
