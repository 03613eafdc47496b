"""The three ways the load generator asks for a stream of tokens, and how it counts what comes back.

- `direct`: straight to the engine (llama.cpp native `POST /completion`, or OpenAI `POST /v1/completions`
  for OpenAI-wire engines).
- `v1`: orchestratord's OrchQueue v1: `POST /v1/tasks`, then `GET /v1/tasks/{id}/stream` (SSE).
- `openai`: orchestratord's `POST /v1/completions` with `stream: true`.

Counters only look at complete SSE frames (a frame split across reads is counted when it completes) and
avoid JSON decoding where a byte pattern identifies a token, so the client stays cheap. The OpenAI
counter decodes each chunk: orchestratord merges a burst of tokens into one chunk, and the mock engine's
tokens are each one space-prefixed word, so a chunk's token count is the number of spaces in its text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

import orjson

from bench.rawhttp import Connection, HttpError, ResponseHead, build_request
from bench.stats import GapSamples

Arm = Literal["direct", "v1", "openai"]
ARMS: tuple[Arm, ...] = ("direct", "v1", "openai")
Wire = Literal["llamacpp", "vllm"]
PROMPT = "Write a short story about a lighthouse keeper and the sea"


class Counter(Protocol):
    """Counts the tokens of one response stream, frame by frame."""

    failed: str | None

    def feed(self, data: bytes) -> tuple[int, bool]:
        """Tokens in the frames completed by `data`, and whether the stream's last frame has been seen."""
        ...


class _Frames:
    """Splits a byte stream into complete SSE frames (separated by a blank line)."""

    def __init__(self) -> None:
        self._carry = b""

    def complete(self, data: bytes) -> bytes:
        buffer = self._carry + data
        cut = buffer.rfind(b"\n\n")
        if cut < 0:
            self._carry = buffer
            return b""
        self._carry = buffer[cut + 2 :]
        return buffer[: cut + 2]


class LlamaNativeCounter:
    """llama.cpp's native stream: a `data:` frame per token (`"stop":false`), then one with `"stop":true`."""

    def __init__(self) -> None:
        self._frames = _Frames()
        self.failed: str | None = None

    def feed(self, data: bytes) -> tuple[int, bool]:
        frames = self._frames.complete(data)
        if b'"error"' in frames:
            self.failed = "engine error event"
            return 0, True
        return frames.count(b'"stop":false'), b'"stop":true' in frames


class OrchSseCounter:
    """OrchQueue v1 SSE: `event: token` frames, ended by `event: end` or `event: error`."""

    def __init__(self) -> None:
        self._frames = _Frames()
        self.failed: str | None = None

    def feed(self, data: bytes) -> tuple[int, bool]:
        frames = self._frames.complete(data)
        if b"event: error" in frames:
            self.failed = "error event"
            return frames.count(b"event: token"), True
        return frames.count(b"event: token"), b"event: end" in frames


class OpenAISseCounter:
    """OpenAI chunks (`data: {...}`), ended by `data: [DONE]`; tokens are the words of each chunk's text."""

    def __init__(self) -> None:
        self._frames = _Frames()
        self.failed: str | None = None
        self.usage_tokens: int | None = None

    def feed(self, data: bytes) -> tuple[int, bool]:
        tokens = 0
        done = False
        for frame in self._frames.complete(data).split(b"\n\n"):
            if not frame.startswith(b"data: "):
                continue
            payload = frame[6:]
            if payload == b"[DONE]":
                done = True
                continue
            tokens += self._tokens(orjson.loads(payload))
        return tokens, done or self.failed is not None

    def _tokens(self, chunk: dict[str, object]) -> int:
        if "error" in chunk:
            self.failed = "error chunk"
            return 0
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage_tokens = int(usage.get("completion_tokens", 0))
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return 0
        choice = choices[0]
        text = choice.get("text")
        if text is None and isinstance(choice.get("delta"), dict):
            text = choice["delta"].get("content")
        return text.count(" ") if isinstance(text, str) else 0


@dataclass(frozen=True, slots=True)
class Target:
    """Where an arm sends its requests, and what it asks for."""

    arm: Arm
    host: str
    port: int
    max_tokens: int
    model: str
    wire: Wire = "llamacpp"


@dataclass(slots=True)
class StreamResult:
    """What one request observed."""

    ok: bool
    tokens: int = 0
    ttft_ms: float | None = None
    error: str | None = None
    gaps: GapSamples = field(default_factory=GapSamples)


def _direct_request(target: Target, seed: int) -> tuple[bytes, Counter]:
    host = f"{target.host}:{target.port}"
    if target.wire == "llamacpp":
        body = {"prompt": PROMPT, "n_predict": target.max_tokens, "stream": True, "seed": seed}
        return build_request("POST", host, "/completion", body), LlamaNativeCounter()
    body = {
        "model": target.model,
        "prompt": PROMPT,
        "max_tokens": target.max_tokens,
        "stream": True,
        "seed": seed,
    }
    return build_request("POST", host, "/v1/completions", body), OpenAISseCounter()


def _openai_request(target: Target, seed: int) -> bytes:
    body = {
        "model": target.model,
        "prompt": PROMPT,
        "max_tokens": target.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
        "seed": seed,
    }
    return build_request("POST", f"{target.host}:{target.port}", "/v1/completions", body)


def task_body(target: Target, seed: int) -> dict[str, object]:
    """The OrchQueue v1 TaskRequest the `v1` arm and the admission phase submit."""
    return {
        "model_ref": target.model,
        "prompt": PROMPT,
        "max_tokens": target.max_tokens,
        "seed": seed,
        "temperature": 0.0,
    }


async def run_one(conn: Connection, target: Target, seed: int) -> StreamResult:
    """Sends one request of `target.arm` on `conn` and reads its stream to the end."""
    started = time.perf_counter()
    try:
        if target.arm == "direct":
            request, counter = _direct_request(target, seed)
            head = await conn.send(request)
        elif target.arm == "openai":
            counter = OpenAISseCounter()
            head = await conn.send(_openai_request(target, seed))
        else:
            host = f"{target.host}:{target.port}"
            post = await conn.send(build_request("POST", host, "/v1/tasks", task_body(target, seed)))
            answer = await conn.body(post)
            if post.status != 202:
                return StreamResult(ok=False, error=f"POST /v1/tasks {post.status} {_code(answer)}")
            task_id = orjson.loads(answer)["task_id"]
            counter = OrchSseCounter()
            head = await conn.send(build_request("GET", host, f"/v1/tasks/{task_id}/stream"))
        if head.status != 200:
            return StreamResult(ok=False, error=f"stream {head.status} {_code(await conn.body(head))}")
        return await _read_stream(conn, head, counter, started)
    except HttpError as exc:
        return StreamResult(ok=False, error=str(exc))


def _code(body: bytes) -> str:
    """The error code of an error envelope (or the start of a body that is not one)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:80].decode(errors="replace")
    code = payload.get("code") if isinstance(payload, dict) else None
    return str(code) if code is not None else body[:80].decode(errors="replace")


async def _read_stream(
    conn: Connection, head: ResponseHead, counter: Counter, started: float
) -> StreamResult:
    result = StreamResult(ok=True)
    last: float | None = None
    done = False
    async for chunk in conn.chunks(head):
        now = time.perf_counter()
        tokens, done = counter.feed(chunk)
        if tokens:
            if last is None:
                result.ttft_ms = (now - started) * 1000.0
                result.gaps.zeros += tokens - 1
            else:
                result.gaps.add((now - last) * 1e6, tokens)
            last = now
            result.tokens += tokens
    if counter.failed is not None or not done:
        result.ok = False
        result.error = counter.failed or "stream ended without its last frame"
    if isinstance(counter, OpenAISseCounter) and counter.usage_tokens is not None:
        if counter.usage_tokens != result.tokens:
            result.error = f"counted {result.tokens} tokens, usage says {counter.usage_tokens}"
            result.ok = False
    return result
