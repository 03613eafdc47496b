"""A task's typed events rendered as OpenAI Responses objects: the event stream, or one response
(ORCH-1099).

The text is one `message` item, streamed as `response.output_text.delta` per transcript batch; each tool
call is a `function_call` item whose whole arguments are one delta; the stream ends with
`response.completed` (or `response.incomplete` at the token limit) carrying the whole response, or
`response.failed` with the error. Every event has its `sequence_number`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ..http.foreign_errors import openai_error
from ..services.task_events import Ended, Failed
from ..services.transcript import TextBatch

PING = b": ping\n\n"


@dataclass(frozen=True, slots=True)
class ResponseShape:
    """Identity of one response and the request fields it repeats (`tools`, `tool_choice`, ...)."""

    task_id: str
    created_at: int
    model: str
    echo: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"resp_{self.task_id}"

    @property
    def message_id(self) -> str:
        return f"msg_{self.task_id}"

    def response(self, status: str, output: list[dict[str, Any]], end: Ended | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.model,
            "output": output,
            "error": None,
            "incomplete_details": None,
            **self.echo,
        }
        if status == "incomplete":
            body["incomplete_details"] = {"reason": "max_output_tokens"}
        if end is not None:
            body["usage"] = usage(end)
        return body


def usage(end: Ended) -> dict[str, Any]:
    return {
        "input_tokens": end.tokens_in,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": end.tokens_out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": end.tokens_in + end.tokens_out,
    }


def status_of(end: Ended) -> str:
    return "incomplete" if end.stop_reason == "max_tokens" else "completed"


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(shape: ResponseShape, text: str, status: str) -> dict[str, Any]:
    content = [text_part(text)] if status == "completed" else []
    return {
        "type": "message",
        "id": shape.message_id,
        "status": status,
        "role": "assistant",
        "content": content,
    }


def output_items(shape: ResponseShape, text: str, end: Ended) -> list[dict[str, Any]]:
    """The finished output: the text (when any, or when nothing else was said), then each call."""
    items = [message_item(shape, text, "completed")] if text or not end.tool_calls else []
    items.extend(
        {
            "type": "function_call",
            "id": f"fc_{call.id}",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "status": "completed",
        }
        for call in end.tool_calls
    )
    return items


def response_body(shape: ResponseShape, text: str, end: Ended) -> dict[str, Any]:
    """The non-stream response."""
    return shape.response(status_of(end), output_items(shape, text, end), end)


class EventWriter:
    """Renders transcript batches as the Responses event stream."""

    def __init__(self, shape: ResponseShape) -> None:
        self._shape = shape
        self._sequence = 0
        self._started = False
        self._text: list[str] = []

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        data = {"type": kind, **payload, "sequence_number": self._sequence}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def write(self, batch: TextBatch) -> bytes:
        frames: list[bytes] = []
        if not self._started:
            self._started = True
            opening = self._shape.response("in_progress", [], None)
            frames += [
                self._event("response.created", {"response": opening}),
                self._event("response.in_progress", {"response": opening}),
            ]
        if batch.text:
            if not self._text:
                frames += self._open_text()
            self._text.append(batch.text)
            delta = {"item_id": self._shape.message_id, "output_index": 0, "content_index": 0}
            frames.append(
                self._event("response.output_text.delta", delta | {"delta": batch.text, "logprobs": []})
            )
        outcome = batch.outcome
        if isinstance(outcome, Failed):
            failed = self._shape.response("failed", [], None) | {"error": openai_error(outcome.error)}
            frames.append(self._event("response.failed", {"response": failed}))
        elif isinstance(outcome, Ended):
            frames += self._end(outcome)
        return b"".join(frames)

    def _open_text(self) -> list[bytes]:
        item = message_item(self._shape, "", "in_progress")
        part = {
            "item_id": self._shape.message_id,
            "output_index": 0,
            "content_index": 0,
            "part": text_part(""),
        }
        return [
            self._event("response.output_item.added", {"output_index": 0, "item": item}),
            self._event("response.content_part.added", part),
        ]

    def _end(self, end: Ended) -> list[bytes]:
        shape, text = self._shape, "".join(self._text)
        items = output_items(shape, text, end)
        frames: list[bytes] = []
        for index, item in enumerate(items):
            if item["type"] == "message":
                if not self._text:
                    frames += self._open_text()
                where = {"item_id": shape.message_id, "output_index": index, "content_index": 0}
                frames += [
                    self._event("response.output_text.done", where | {"text": text, "logprobs": []}),
                    self._event("response.content_part.done", where | {"part": text_part(text)}),
                ]
            else:
                added = item | {"status": "in_progress", "arguments": ""}
                where = {"item_id": item["id"], "output_index": index}
                frames += [
                    self._event("response.output_item.added", {"output_index": index, "item": added}),
                    self._event(
                        "response.function_call_arguments.delta", where | {"delta": item["arguments"]}
                    ),
                    self._event(
                        "response.function_call_arguments.done", where | {"arguments": item["arguments"]}
                    ),
                ]
            frames.append(self._event("response.output_item.done", {"output_index": index, "item": item}))
        status = status_of(end)
        final = shape.response(status, items, end)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        frames.append(self._event(kind, {"response": final}))
        return frames
