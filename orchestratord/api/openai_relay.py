"""A task's typed events rendered as OpenAI objects: stream chunks, or one (chat) completion (ORCH-1060,
ORCH-1061, ORCH-1064, ORCH-1065).

The relay follows the transcript's typed batches (`Transcript.follow_text`): the text of every token of a
batch leaves in one chunk, so a burst of tokens costs one write. `started` names the replica set
(`system_fingerprint`), `Ended` gives `finish_reason` and `usage`, `Failed` becomes the in-stream error
object (stream) or is raised as the typed error it carries (non-stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..services.task_events import Ended, Failed, finish_reason
from ..services.transcript import TextBatch

Kind = Literal["completion", "chat"]
DONE = b"data: [DONE]\n\n"


def usage(end: Ended) -> dict[str, int]:
    prompt, completion = end.tokens_in, end.tokens_out
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def error_envelope(failed: Failed, correlation_id: str) -> dict[str, Any]:
    """The error envelope of an in-stream `error` event (ORCH-1064)."""
    error = failed.error
    envelope: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "retriable": error.is_retriable,
        "correlation_id": correlation_id,
    }
    extra = {
        "engine": failed.engine,
        "retry_after_ms": error.retry_after_ms,
        "pool_id": error.pool_id,
        "policy_label": error.policy_label,
    }
    envelope.update((key, value) for key, value in extra.items() if value is not None)
    return envelope


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

    def write(self, batch: TextBatch) -> bytes:
        if batch.started is not None:
            self._fingerprint = batch.started.identity.system_fingerprint()
        frames: list[bytes] = []
        if batch.text:
            frames.append(self._chunk(batch.text, None))
        outcome = batch.outcome
        if isinstance(outcome, Failed):
            frames.append(_data({"error": error_envelope(outcome, self._correlation_id)}))
        elif isinstance(outcome, Ended):
            frames.append(self._chunk("", finish_reason(outcome.stop_reason)))
            if self._include_usage:
                head = self._shape.head(self._fingerprint, chunk=True)
                frames.append(_data(head | {"choices": [], "usage": usage(outcome)}))
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


def response_body(shape: Shape, fingerprint: str | None, text: str, end: Ended) -> dict[str, Any]:
    """The non-stream text_completion or chat.completion object."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish_reason(end.stop_reason), "logprobs": None}
    if shape.kind == "completion":
        choice["text"] = text
    else:
        choice["message"] = {"role": "assistant", "content": text}
    return shape.head(fingerprint, chunk=False) | {"choices": [choice], "usage": usage(end)}


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
