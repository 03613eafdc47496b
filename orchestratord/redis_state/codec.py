"""How a task's shapes travel through Redis: the spec, its admission, the typed stream events and the
transcript chunks. Each is decoded back into the same dataclass on another instance; nothing else of a
record crosses instances.
"""

from __future__ import annotations

from array import array
from dataclasses import asdict
from typing import Any

import orjson

from orchestrator_core.errors import OrchError, error_classes
from orchestratord.services.task_events import Ended, Failed, Outcome, ReplayIdentity, Started
from orchestratord.services.task_registry import Admission
from orchestratord.services.task_spec import PlacementSpec, TaskSpec
from orchestratord.services.transcript import Chunk
from worker_adapters.types import ChatMessage, ToolCall

_ERRORS = error_classes()
_OFFSETS = "I"


def encode_spec(spec: TaskSpec) -> bytes:
    fields = asdict(spec)
    fields["fingerprint"] = spec.fingerprint.hex() if spec.fingerprint is not None else None
    return orjson.dumps(fields)


def decode_spec(blob: bytes) -> TaskSpec:
    fields: dict[str, Any] = orjson.loads(blob)
    fingerprint = fields.pop("fingerprint")
    messages = fields.pop("messages")
    placement = fields.pop("placement")
    placement["prefer_pools"] = tuple(placement["prefer_pools"])
    placement["avoid_pools"] = tuple(placement["avoid_pools"])
    stop = tuple(fields.pop("stop"))
    fields["inputs"] = tuple(fields.get("inputs", ()))
    return TaskSpec(
        **fields,
        fingerprint=bytes.fromhex(fingerprint) if fingerprint is not None else None,
        messages=tuple(_message(m) for m in messages) if messages is not None else None,
        placement=PlacementSpec(**placement),
        stop=stop,
    )


def _message(fields: dict[str, Any]) -> ChatMessage:
    calls = tuple(ToolCall(**c) for c in fields.pop("tool_calls"))
    return ChatMessage(**fields, tool_calls=calls)


def encode_admission(admission: Admission) -> bytes:
    return orjson.dumps(admission)  # orjson encodes a dataclass as asdict would, without the copy


def decode_admission(blob: bytes) -> Admission:
    return Admission(**orjson.loads(blob))


def encode_started(started: Started) -> bytes:
    return orjson.dumps(started)


def decode_started(blob: bytes) -> Started:
    fields: dict[str, Any] = orjson.loads(blob)
    return Started(
        fields["queue_position"], fields["predicted_start_ms"], ReplayIdentity(**fields["identity"])
    )


def encode_outcome(outcome: Outcome) -> bytes:
    if isinstance(outcome, Ended):
        return orjson.dumps({"ended": outcome})
    # The `error` event's own payload, plus the pool: everything the typed error is rebuilt from.
    return orjson.dumps({"failed": {**outcome.payload(), "pool_id": outcome.error.pool_id}})


def decode_outcome(blob: bytes) -> Outcome:
    fields: dict[str, Any] = orjson.loads(blob)
    if "ended" in fields:
        ended = fields["ended"]
        calls = tuple(ToolCall(**c) for c in ended.pop("tool_calls", ()))
        vectors = tuple(tuple(vector) for vector in ended.pop("embeddings", ()))
        return Ended(**ended, tool_calls=calls, embeddings=vectors)
    failed = fields["failed"]
    error_class = _ERRORS.get(failed.pop("code"), OrchError)
    message = failed.pop("message")
    return Failed(error_class(message, **failed), failed["engine"])


def _offsets(blob: bytes) -> array[int]:
    offsets = array(_OFFSETS)
    offsets.frombytes(blob)
    return offsets


def encode_chunk(chunk: Chunk) -> dict[bytes | str, bytes | str | int]:
    """The fields of one stream entry; the byte buffers travel as they are."""
    fields: dict[bytes | str, bytes | str | int] = {
        "f": chunk.frames,
        "te": chunk.token_ends.tobytes(),
        "x": chunk.texts,
        "m": chunk.metrics,
        "me": chunk.metrics_ends.tobytes(),
        "ma": chunk.metrics_at.tobytes(),
        "se": chunk.started_end,
        "ta": chunk.terminal_at,
    }
    if chunk.started is not None:
        fields["s"] = encode_started(chunk.started)
    if chunk.outcome is not None:
        fields["o"] = encode_outcome(chunk.outcome)
    return fields


def decode_chunk(fields: dict[bytes, bytes]) -> Chunk:
    started, outcome = fields.get(b"s"), fields.get(b"o")
    return Chunk(
        frames=fields[b"f"],
        token_ends=_offsets(fields[b"te"]),
        texts=fields[b"x"],
        metrics=fields[b"m"],
        metrics_ends=_offsets(fields[b"me"]),
        metrics_at=_offsets(fields[b"ma"]),
        started_end=int(fields[b"se"]),
        terminal_at=int(fields[b"ta"]),
        started=decode_started(started) if started else None,
        outcome=decode_outcome(outcome) if outcome else None,
    )
