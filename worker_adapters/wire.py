"""What a wire format contributes to the shared stream driver: a request and an event decoder.

Each engine module turns a GenerateRequest into a `WireCall` and decodes the `data` payload of each
SSE event into token texts and, at the end, a `Finish`. The driver in `http_stream` does the rest
(retries, timeouts, cancellation, error mapping), so no engine repeats it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from orchestrator_core.errors import Internal, WorkerReset
from worker_adapters.types import StopReason, StreamEvent, ToolCall


@dataclass(frozen=True, slots=True)
class WireCall:
    """One POST to an engine's streaming endpoint."""

    path: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Finish:
    """What the engine said about the end of a stream; counts are None when it did not say."""

    stop_reason: StopReason
    tokens_in: int | None = None
    tokens_out: int | None = None
    engine_prompt_ms: float | None = None
    engine_decode_ms: float | None = None
    tool_calls: tuple[ToolCall, ...] = ()


Piece = str | Finish


class WireDecoder(Protocol):
    """Stateful decoder of one stream's events (a new one per request)."""

    def feed(self, data: str) -> list[Piece]:
        """The pieces one event carries; raises a typed error for an in-stream error event."""
        ...

    def at_eof(self) -> Finish:
        """The finish when the body ended; raises WorkerReset when the wire needs an explicit end."""
        ...


def load_event(data: str, engine: str) -> Any:
    """Parse one event payload as JSON, as a typed error when it is not."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Internal(f"{engine} sent a non-JSON stream event: {data[:200]!r}", engine=engine) from exc


def truncated(engine: str) -> WorkerReset:
    """The error for a stream whose body ended before the engine's final event."""
    return WorkerReset(f"{engine} stream ended before its final event", engine=engine)


def optional_int(value: object) -> int | None:
    """An int field of an engine payload, None when absent or of another type."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_dict(value: object) -> dict[str, Any]:
    """A nested object of an engine payload, empty when absent or of another type."""
    return value if isinstance(value, dict) else {}


def optional_float(value: object) -> float | None:
    """A numeric field of an engine payload as float, None when absent."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


async def refused(error: Exception) -> AsyncGenerator[StreamEvent, None]:
    """A stream that fails with `error` on first iteration, like any other stream failure."""
    raise error
    yield  # pragma: no cover - makes this an async generator
