"""A task's transcript rendered as OpenAI objects: stream chunks, or one (chat) completion (ORCH-1060,
ORCH-1061, ORCH-1064, ORCH-1065).

The transcript holds pre-encoded SSE frames; each batch a reader receives is parsed once (the token
frames of a batch in one JSON call), and all token texts of a batch leave in one chunk, so a burst of
tokens costs one write. `started` names the replica set (`system_fingerprint`), `end` gives
`finish_reason` and `usage`, `error` becomes the in-stream error object (stream) or the typed error
(non-stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from orchestrator_core.errors import Backpressure, Internal, OrchError, error_classes

Kind = Literal["completion", "chat"]
DONE = b"data: [DONE]\n\n"
FINISH_REASONS = {"eos": "stop", "stop_sequence": "stop", "max_tokens": "length", "canceled": "stop"}


@dataclass(slots=True)
class Batch:
    """What one batch of transcript frames says: token text, replica set, and the terminal event."""

    text: str = ""
    fingerprint: str | None = None
    end: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.end is not None or self.error is not None


def system_fingerprint(started: dict[str, Any]) -> str:
    """engine-engine_version-digest prefix: equal fingerprints mean the same replica set."""
    digest = str(started.get("model_digest") or "").removeprefix("sha256:")
    return f"{started.get('engine')}-{started.get('engine_version')}-{digest[:12]}"


def parse_batch(chunk: bytes) -> Batch:
    """Parses `event: <kind>\\n[id: <i>\\n]data: <json>\\n\\n` frames (compact JSON never holds a newline)."""
    batch = Batch()
    tokens: list[bytes] = []
    for frame in chunk.split(b"\n\n"):
        head, found, data = frame.partition(b"\ndata: ")
        if not found:
            continue
        kind = head.split(b"\n", 1)[0].removeprefix(b"event: ")
        if kind == b"token":
            tokens.append(data)  # decoded below, all tokens of the batch in one call
            continue
        payload = orjson.loads(data)
        if kind == b"started":
            batch.fingerprint = system_fingerprint(payload)
        elif kind == b"end":
            batch.end = payload
        elif kind == b"error":
            batch.error = payload
    if tokens:
        batch.text = "".join(token["t"] for token in orjson.loads(b"[" + b",".join(tokens) + b"]"))
    return batch


def usage(end: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(end.get("tokens_in") or 0), int(end.get("tokens_out") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(end: dict[str, Any]) -> str:
    return FINISH_REASONS.get(str(end.get("stop_reason")), "stop")


def error_envelope(payload: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """The error envelope of an in-stream `error` event (ORCH-1064)."""
    envelope = {
        "code": payload.get("code", "INTERNAL"),
        "message": payload.get("message", "the task failed"),
        "retriable": bool(payload.get("retriable", False)),
        "correlation_id": correlation_id,
    }
    for key in ("engine", "retry_after_ms", "pool_id", "policy_label"):
        if payload.get(key) is not None:
            envelope[key] = payload[key]
    return envelope


def typed_error(payload: dict[str, Any], policy_label: str | None) -> OrchError:
    """The typed error of an `error` event, for a non-stream answer; a 429 carries its policy label."""
    cls = error_classes().get(str(payload.get("code")), Internal)
    retry_after_ms = payload.get("retry_after_ms")
    retriable = payload.get("retriable")
    return cls(
        str(payload.get("message", "the task failed")),
        retriable=retriable if isinstance(retriable, bool) else None,
        engine=payload.get("engine") if isinstance(payload.get("engine"), str) else None,
        retry_after_ms=retry_after_ms if isinstance(retry_after_ms, int) else None,
        policy_label=policy_label if issubclass(cls, Backpressure) else None,
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """Identity of one facade answer: which endpoint, its id, creation time and model name."""

    kind: Kind
    task_id: str
    created: int
    model: str

    @property
    def id(self) -> str:
        return f"{'cmpl' if self.kind == 'completion' else 'chatcmpl'}-{self.task_id}"

    def head(self, fingerprint: str | None, *, chunk: bool) -> dict[str, Any]:
        if self.kind == "completion":
            kind = "text_completion"
        else:
            kind = "chat.completion.chunk" if chunk else "chat.completion"
        head: dict[str, Any] = {"id": self.id, "object": kind, "created": self.created, "model": self.model}
        if fingerprint is not None:
            head["system_fingerprint"] = fingerprint
        return head


class ChunkWriter:
    """Renders transcript batches as `data: <chunk>` frames ending with `data: [DONE]`."""

    def __init__(self, shape: Shape, *, include_usage: bool, correlation_id: str) -> None:
        self._shape = shape
        self._include_usage = include_usage
        self._correlation_id = correlation_id
        self._fingerprint: str | None = None
        self._role_sent = False

    def write(self, batch: Batch) -> bytes:
        self._fingerprint = batch.fingerprint or self._fingerprint
        frames: list[bytes] = []
        if batch.text:
            frames.append(self._chunk(batch.text, None))
        if batch.error is not None:
            frames.append(_data({"error": error_envelope(batch.error, self._correlation_id)}))
        elif batch.end is not None:
            frames.append(self._chunk("", finish_reason(batch.end)))
            if self._include_usage:
                head = self._shape.head(self._fingerprint, chunk=True)
                frames.append(_data(head | {"choices": [], "usage": usage(batch.end)}))
            frames.append(DONE)
        return b"".join(frames)

    def _chunk(self, text: str, reason: str | None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "finish_reason": reason, "logprobs": None}
        if self._shape.kind == "completion":
            choice["text"] = text
        else:
            delta: dict[str, str] = {} if not text and self._role_sent else {"content": text}
            if not self._role_sent:
                delta["role"] = "assistant"
                self._role_sent = True
            choice["delta"] = delta
        return _data(self._shape.head(self._fingerprint, chunk=True) | {"choices": [choice]})


def response_body(shape: Shape, fingerprint: str | None, text: str, end: dict[str, Any]) -> dict[str, Any]:
    """The non-stream text_completion or chat.completion object."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish_reason(end), "logprobs": None}
    if shape.kind == "completion":
        choice["text"] = text
    else:
        choice["message"] = {"role": "assistant", "content": text}
    return shape.head(fingerprint, chunk=False) | {"choices": [choice], "usage": usage(end)}


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
