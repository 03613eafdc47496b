"""A task's typed events rendered as OpenAI objects: stream chunks, or one (chat) completion (ORCH-1060,
ORCH-1061, ORCH-1064, ORCH-1065).

The relay follows the transcript's typed batches (`Transcript.follow_text`): the text of every token of a
batch leaves in one chunk, so a burst of tokens costs one write. `started` names the replica set
(`system_fingerprint`), `Ended` gives `finish_reason` and `usage`, `Failed` becomes the in-stream error
object in OpenAI's shape (stream) or is raised as the typed error it carries (non-stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..http.foreign_errors import openai_error
from ..services.task_events import Ended, Failed, finish_reason, tool_call_objects
from ..services.transcript import TextBatch

Kind = Literal["completion", "chat"]
DONE = b"data: [DONE]\n\n"


def usage(end: Ended) -> dict[str, int]:
    prompt, completion = end.tokens_in, end.tokens_out
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


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

    def __init__(self, shape: Shape, *, include_usage: bool) -> None:
        self._shape = shape
        self._include_usage = include_usage
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
            frames.append(_data({"error": openai_error(outcome.error)}))
        elif isinstance(outcome, Ended):
            if outcome.tool_calls and self._shape.kind == "chat":
                # Each call whole, in one delta, before the last chunk (ORCH-1069).
                frames.append(self._calls_chunk(outcome))
            frames.append(self._chunk("", finish_reason(outcome.stop_reason)))
            if self._include_usage:
                head = self._shape.head(self._fingerprint, chunk=True)
                frames.append(_data(head | {"choices": [], "usage": usage(outcome)}))
            frames.append(DONE)
        return b"".join(frames)

    def _calls_chunk(self, end: Ended) -> bytes:
        calls = [{"index": i} | call for i, call in enumerate(tool_call_objects(end.tool_calls))]
        delta: dict[str, Any] = {"tool_calls": calls}
        if not self._role_sent:
            delta["role"] = "assistant"
            self._role_sent = True
        choice = {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}
        return _data(self._shape.head(self._fingerprint, chunk=True) | {"choices": [choice]})

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
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if end.tool_calls:
            message["tool_calls"] = tool_call_objects(end.tool_calls)
            message["content"] = text or None
        choice["message"] = message
    return shape.head(fingerprint, chunk=False) | {"choices": [choice], "usage": usage(end)}


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
