"""A task's typed events rendered as Anthropic Messages objects: the event stream, or one message
(ORCH-1095, ORCH-1097).

The stream opens with `message_start`; token text goes into one `text` block (opened at the first text,
one `text_delta` per transcript batch); at the end each tool call is a `tool_use` block whose whole input
is one `input_json_delta`, then `message_delta` carries the stop reason and usage, and `message_stop`
closes it. A failure is an `error` event in Anthropic's shape.
"""

from __future__ import annotations

from typing import Any

import orjson

from worker_adapters.types import ToolCall

from ..http.foreign_errors import anthropic_error
from ..services.task_events import Ended, Failed, TaskStopReason
from ..services.transcript import TextBatch

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_STOP_REASONS: dict[TaskStopReason, str] = {
    "eos": "end_turn",
    "stop_sequence": "stop_sequence",
    "max_tokens": "max_tokens",
    "canceled": "end_turn",
    "tool_calls": "tool_use",
}


def message_id(task_id: str) -> str:
    return f"msg_{task_id}"


def _input(call: ToolCall) -> dict[str, Any]:
    """A call's arguments as the object Anthropic's `input` is; text that is no object becomes {}."""
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def usage(end: Ended) -> dict[str, int]:
    return {"input_tokens": end.tokens_in, "output_tokens": end.tokens_out}


def message_body(task_id: str, model: str, text: str, end: Ended) -> dict[str, Any]:
    """The non-stream message."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text or not end.tool_calls else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c)} for c in end.tool_calls]
    return {
        "id": message_id(task_id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP_REASONS[end.stop_reason],
        "stop_sequence": None,
        "usage": usage(end),
    }


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind} | payload) + b"\n\n"


class EventWriter:
    """Renders transcript batches as Anthropic's message events."""

    def __init__(self, task_id: str, model: str) -> None:
        self._task_id = task_id
        self._model = model
        self._started = False
        self._blocks = 0
        self._text_open = False

    def write(self, batch: TextBatch) -> bytes:
        frames: list[bytes] = []
        if not self._started:
            self._started = True
            frames.append(self._message_start())
        if batch.text:
            if not self._text_open:
                self._text_open = True
                block = {"type": "text", "text": ""}
                frames.append(_event("content_block_start", {"index": self._blocks, "content_block": block}))
            delta = {"type": "text_delta", "text": batch.text}
            frames.append(_event("content_block_delta", {"index": self._blocks, "delta": delta}))
        outcome = batch.outcome
        if isinstance(outcome, Failed):
            frames.append(_event("error", {"error": anthropic_error(outcome.error)}))
        elif isinstance(outcome, Ended):
            frames += self._end(outcome)
        return b"".join(frames)

    def _message_start(self) -> bytes:
        message: dict[str, object] = {
            "id": message_id(self._task_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event("message_start", {"message": message})

    def _close_text(self) -> list[bytes]:
        if not self._text_open:
            return []
        self._text_open = False
        self._blocks += 1
        return [_event("content_block_stop", {"index": self._blocks - 1})]

    def _end(self, end: Ended) -> list[bytes]:
        frames = self._close_text()
        for call in end.tool_calls:
            index = self._blocks
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": orjson.dumps(_input(call)).decode()}
            frames += [
                _event("content_block_start", {"index": index, "content_block": block}),
                _event("content_block_delta", {"index": index, "delta": delta}),
                _event("content_block_stop", {"index": index}),
            ]
            self._blocks += 1
        reason: dict[str, str | None] = {"stop_reason": _STOP_REASONS[end.stop_reason], "stop_sequence": None}
        frames.append(_event("message_delta", {"delta": reason, "usage": usage(end)}))
        frames.append(_event("message_stop", {}))
        return frames
