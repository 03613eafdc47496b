"""Decoder of OpenAI-compatible streams (vLLM, and the chat routes of llama.cpp and TGI).

Streams end with `data: [DONE]`. Usage arrives on the last choice chunk (llama.cpp /v1/completions)
or in an extra chunk with `"choices": []` (include_usage). An error event may follow tokens: vLLM
sends `[DONE]` after it, llama.cpp ends the body; both raise here as soon as the error event arrives.
Tool calls arrive as `delta.tool_calls` pieces (id and name first, then argument text, per `index`); they
are put together here and handed on whole with the Finish (ORCH-1069). A call forced as constrained JSON
(`tool_calls.forced_tool`) is the answer's text, parsed at the end instead of being sent as tokens.
"""

from __future__ import annotations

from typing import Any

from orchestrator_core.errors import Internal
from worker_adapters.errors import error_from_event
from worker_adapters.tool_calls import call_id, parse_forced_call
from worker_adapters.types import StopReason, ToolCall
from worker_adapters.wire import Finish, Piece, as_dict, load_event, optional_float, optional_int, truncated

_FINISH_REASONS: dict[str, StopReason] = {
    "length": "limit",
    "stop": "eos",
    "eos": "eos",
    "tool_calls": "tool_calls",
    "function_call": "eos",
    "abort": "cancel",
}


class OpenAIDecoder:
    """Decodes one OpenAI chunk stream into token texts and a Finish."""

    def __init__(self, engine: str, *, chat: bool, forced_call_seed: int | None = None) -> None:
        self._engine = engine
        self._chat = chat
        # The seed of a request whose answer is a forced call (its text is kept, not sent), else None.
        self._forced_seed = forced_call_seed
        self._forced_text: list[str] = []
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        self._finish_reason: str | None = None
        self._stop_match: object = None
        self._tokens_in: int | None = None
        self._tokens_out: int | None = None
        self._prompt_ms: float | None = None
        self._decode_ms: float | None = None

    def feed(self, data: str) -> list[Piece]:
        """Token texts of one chunk, or the Finish at `[DONE]`."""
        if data.strip() == "[DONE]":
            return [self._finish()]
        payload = load_event(data, self._engine)
        if not isinstance(payload, dict):
            raise Internal(f"{self._engine} sent a chunk that is not an object", engine=self._engine)
        if "error" in payload or payload.get("object") == "error":
            raise error_from_event(payload, self._engine)
        self._note_usage(payload)
        pieces: list[Piece] = []
        for choice in payload.get("choices") or ():
            text = self._text(choice)
            if text and self._forced_seed is not None:
                self._forced_text.append(text)
            elif text:
                pieces.append(text)
            if self._chat:
                self._note_calls(choice)
            if choice.get("finish_reason"):
                self._finish_reason = str(choice["finish_reason"])
                self._stop_match = choice.get("stop_reason")
        return pieces

    def at_eof(self) -> Finish:
        """Every OpenAI stream ends with [DONE]; a body ending before it was cut."""
        raise truncated(self._engine)

    def _text(self, choice: dict[str, Any]) -> str | None:
        if self._chat:
            delta = choice.get("delta") or {}
            content = delta.get("content")
        else:
            content = choice.get("text")
        return content if isinstance(content, str) else None

    def _note_calls(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        calls = delta.get("tool_calls") if isinstance(delta, dict) else None
        for call in calls if isinstance(calls, list) else ():
            if not isinstance(call, dict):
                continue
            index = optional_int(call.get("index")) or 0
            parts = self._calls.setdefault(index, ["", "", ""])
            function = as_dict(call.get("function"))
            for slot, value in ((0, call.get("id")), (1, function.get("name"))):
                if isinstance(value, str) and value:
                    parts[slot] = value
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                parts[2] += arguments

    def _tool_calls(self) -> tuple[ToolCall, ...]:
        if self._forced_seed is not None:
            text = "".join(self._forced_text)
            return (parse_forced_call(text, self._engine, call_id(self._forced_seed, text)),)
        return tuple(
            ToolCall(parts[0] or call_id(index, parts[1] + parts[2]), parts[1], parts[2] or "{}")
            for index, parts in sorted(self._calls.items())
        )

    def _note_usage(self, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._tokens_in = optional_int(usage.get("prompt_tokens"))
            self._tokens_out = optional_int(usage.get("completion_tokens"))
        timings = payload.get("timings")
        if isinstance(timings, dict):  # llama.cpp adds its own timings to the last chunk
            self._prompt_ms = optional_float(timings.get("prompt_ms"))
            self._decode_ms = optional_float(timings.get("predicted_ms"))

    def _finish(self) -> Finish:
        reason = self._finish_reason
        if reason == "error":
            raise Internal(f"{self._engine} finished the stream with an error", engine=self._engine)
        stop: StopReason = _FINISH_REASONS.get(reason or "stop", "eos")
        if reason == "stop" and self._stop_match is not None:
            # vLLM names the matched stop string or token in stop_reason; null means end of sequence.
            stop = "stop"
        calls: tuple[ToolCall, ...] = ()
        # A call cut by the token limit is no call (a forced one could not even be parsed).
        if stop != "limit" and (self._calls or self._forced_seed is not None):
            calls, stop = self._tool_calls(), "tool_calls"
        return Finish(
            stop_reason=stop,
            tokens_in=self._tokens_in,
            tokens_out=self._tokens_out,
            engine_prompt_ms=self._prompt_ms,
            engine_decode_ms=self._decode_ms,
            tool_calls=calls,
        )
