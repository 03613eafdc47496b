"""OpenAI-compatible streaming routes in the flavours of vLLM, llama.cpp and TGI.

Differences kept on purpose: vLLM sends `[DONE]` even after an error event and names the matched stop
string in `stop_reason`; llama.cpp ends the body after an error event and puts `usage` on the last
/v1/completions chunk; the chat role chunk has `content: ""` (vLLM) or `null` (llama.cpp).

A chat body with `response_format` (json_object or json_schema) is answered with the smallest JSON value
its schema allows, and one with `tools` (and `tool_choice` not `none`) with a call of the first allowed
function whose arguments are the smallest object its parameters allow, in the engines' streaming shape: id
and name first, then the argument text in two pieces, then `finish_reason: tool_calls`; after a tool's
result (the last message), with `tool_choice` `auto`, it answers in text.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_engine.engine import InjectedError, MockEnd, MockEngine, MockToken, count_prompt_tokens
from mock_engine.http_common import (
    BadBody,
    ClosingStream,
    ErrorRenderer,
    field_int,
    field_stop,
    json_response,
    read_object,
    refusal,
    sse,
)
from mock_engine.job import MockJob, chat_text

Flavour = Literal["vllm", "llamacpp", "tgi"]
EMBEDDING_SIZE = 8
_FINISH = {"eos": "stop", "stop": "stop", "limit": "length", "cancel": "abort"}


def smallest_instance(schema: Any) -> Any:
    """The smallest JSON value a (simple) JSON schema allows: required properties only, empty arrays."""
    if not isinstance(schema, dict):
        return {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return smallest_instance(schema[key][0])
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: smallest_instance(properties.get(name)) for name in schema.get("required") or ()}
    return {"string": "x", "integer": 0, "number": 0, "boolean": False, "array": [], "null": None}.get(
        kind, {}
    )


def scripted_answer(body: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The JSON text a response_format asks for, or the tool call the tools ask for (else both None)."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        return orjson.dumps(smallest_instance(schema)).decode(), None
    tools, choice = body.get("tools"), body.get("tool_choice", "auto")
    if not isinstance(tools, list) or not tools or choice == "none":
        return None, None
    messages = body.get("messages")
    if choice == "auto" and isinstance(messages, list) and messages and messages[-1].get("role") == "tool":
        return None, None  # with a tool's result in hand, the emulated model answers in text
    functions = [t.get("function") or {} for t in tools if isinstance(t, dict)]
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        functions = [f for f in functions if f.get("name") == wanted] or functions
    function = functions[0]
    arguments = orjson.dumps(smallest_instance(function.get("parameters") or {"type": "object"})).decode()
    return None, {"name": function.get("name", ""), "arguments": arguments}


def parse_job(body: dict[str, Any], chat: bool, default_max: int) -> MockJob:
    """The job of an OpenAI completion or chat body; BadBody names a bad field."""
    if chat:
        try:
            text = chat_text(body.get("messages"))
        except ValueError as exc:
            raise BadBody(str(exc)) from exc
    else:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise BadBody("Field 'prompt': a string is required")
        text = prompt
    max_tokens = field_int(body, "max_tokens", default_max) or default_max
    if max_tokens < 1:
        raise BadBody("max_tokens must be at least 1")
    return MockJob(text, max_tokens, field_int(body, "seed", 0) or 0, field_stop(body, "stop"))


class OpenAIStream:
    """Renders one job as an OpenAI chunk stream in a given flavour."""

    def __init__(
        self,
        flavour: Flavour,
        job: MockJob,
        chat: bool,
        model: str,
        include_usage: bool,
        script: tuple[str | None, dict[str, Any] | None] = (None, None),
    ) -> None:
        self._content, self._call = script
        self._flavour = flavour
        self._job = job
        self._chat = chat
        self._model = model
        self._include_usage = include_usage
        self._id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self._created = int(time.time())

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        kind = "chat.completion.chunk" if self._chat else "text_completion"
        payload = {"id": self._id, "object": kind, "created": self._created, "model": self._model}
        return sse(payload | {"choices": choices} | extra)

    def _choice(self, text: str | None, finish: str | None = None, stop: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
        if self._chat:
            choice["delta"] = {} if text is None else {"content": text}
        else:
            choice["text"] = text or ""
        if self._flavour == "vllm":
            choice["stop_reason"] = stop
        return choice

    async def render(self, engine: MockEngine) -> AsyncGenerator[bytes, None]:
        """The whole stream, errors included."""
        if self._chat:
            role = {"role": "assistant", "content": "" if self._flavour == "vllm" else None}
            yield self._chunk([{"index": 0, "delta": role, "finish_reason": None}])
        try:
            async for step in self._job.run(engine):
                if isinstance(step, MockEnd):
                    yield self._scripted() + self._end(step)
                elif self._content is None and self._call is None:
                    yield self._tokens(step)
        except InjectedError as exc:
            yield self._error(str(exc))
            if self._flavour == "vllm":
                yield b"data: [DONE]\n\n"
            return
        yield b"data: [DONE]\n\n"

    def _scripted(self) -> bytes:
        """The JSON answer or the tool call, sent when the job ends (its tokens stand for the decode)."""
        if self._content is not None:
            half = len(self._content) // 2
            return self._tokens_of(self._content[:half], self._content[half:])
        if self._call is None:
            return b""
        head = {"index": 0, "id": f"call_{self._id[-12:]}", "type": "function"}
        first = head | {"function": {"name": self._call["name"], "arguments": ""}}
        arguments = self._call["arguments"]
        half = len(arguments) // 2
        pieces = [first] + [
            {"index": 0, "function": {"arguments": p}} for p in (arguments[:half], arguments[half:])
        ]
        return b"".join(
            self._chunk([{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}])
            for piece in pieces
        )

    def _tokens_of(self, *texts: str) -> bytes:
        return b"".join(self._chunk([self._choice(text)]) for text in texts if text)

    def _tokens(self, tokens: list[MockToken]) -> bytes:
        return b"".join(self._chunk([self._choice(token.text)]) for token in tokens)

    def _end(self, end: MockEnd) -> bytes:
        matched = end.stop_token.text.strip() if end.stop_token else None
        usage = {
            "prompt_tokens": end.tokens_in,
            "completion_tokens": end.tokens_out,
            "total_tokens": end.tokens_in + end.tokens_out,
        }
        reason = _FINISH[end.stop_reason]
        if self._call is not None or self._content is not None:
            reason = "tool_calls" if self._call is not None else "stop"
        final = self._choice(None, reason, matched)
        if self._flavour == "llamacpp" and not self._chat:
            # llama.cpp puts usage on the last /v1/completions chunk, always.
            return self._chunk([final], usage=usage)
        out = self._chunk([final])
        if self._include_usage:
            out += self._chunk([], usage=usage)
        return out

    def _error(self, message: str) -> bytes:
        if self._flavour == "tgi":
            return sse({"error": {"message": message, "http_status_code": 500}})
        if self._flavour == "vllm":
            return sse(
                {"error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}}
            )
        return sse({"error": {"code": 500, "message": message, "type": "server_error"}})


def openai_routes(engine: MockEngine, flavour: Flavour, error: ErrorRenderer) -> list[Route]:
    """POST /v1/completions and /v1/chat/completions, with `error` rendering the flavour's error body."""
    invalid_status = 422 if flavour == "tgi" else 400

    async def handle(request: Request, chat: bool) -> Response:
        try:
            body = await read_object(request)
            engine.requests.append({"path": request.url.path, "body": body})
            job = parse_job(body, chat, default_max=16 if flavour == "vllm" else 256)
        except BadBody as exc:
            return error(invalid_status, str(exc))
        refused = refusal(engine, job, error, invalid_status)
        if refused is not None:
            return refused
        options = body.get("stream_options") or {}
        include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
        model = str(body.get("model") or engine.config.model_id)
        script = scripted_answer(body) if chat else (None, None)
        stream = OpenAIStream(flavour, job, chat, model, include_usage, script)
        return ClosingStream(stream.render(engine))

    async def completions(request: Request) -> Response:
        return await handle(request, chat=False)

    async def chat_completions(request: Request) -> Response:
        return await handle(request, chat=True)

    async def embeddings(request: Request) -> Response:
        """OpenAI's embeddings answer: a deterministic unit vector per input (from the text's hash)."""
        try:
            body = await read_object(request)
            engine.requests.append({"path": request.url.path, "body": body})
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                raise BadBody("'input' must be a string or a list of strings")
        except BadBody as exc:
            return error(invalid_status, str(exc))
        data = [{"object": "embedding", "index": i, "embedding": mock_vector(t)} for i, t in enumerate(texts)]
        tokens = sum(count_prompt_tokens(t) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        model = str(body.get("model") or engine.config.model_id)
        return json_response({"object": "list", "data": data, "model": model, "usage": usage})

    routes = [
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
    if flavour != "tgi":  # TGI serves embeddings from a separate server (TEI), not this one
        routes.append(Route("/v1/embeddings", embeddings, methods=["POST"]))
    return routes


def mock_vector(text: str, size: int = EMBEDDING_SIZE) -> list[float]:
    """A unit vector that depends only on `text`, so tests can check which vector is whose."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(size)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]
