"""The shared stream driver of the HTTP adapters (ORCH-7002..7005).

Closing the generator before the final event closes the upstream connection at once (ORCH-7003); every
failure is a typed error; the first-token timeout covers the wait for the response head and the first
token, the idle timeout each gap between tokens; unreachable engines are retried with full jitter only
while no token has been delivered (ORCH-7005). The body is read chunk by chunk: the deadline and the await
cost once per chunk, not per event. A stream that reached its final event releases its response, whose
connection reads the body's end on its own and then serves the next request.
"""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

import orjson

from orchestrator_core.errors import DecodeTimeout, PoolUnavailable
from worker_adapters.engine_client import EngineResponse, EngineStreamClient
from worker_adapters.errors import body_message, error_for_status
from worker_adapters.options import AdapterOptions
from worker_adapters.sse import SseDataReader, check_event_stream
from worker_adapters.types import FinalEvent, StreamEvent, Timings, TokenEvent
from worker_adapters.wire import Finish, WireCall, WireDecoder

Clock = Callable[[], float]
# An engine's error body is read up to this size for its message.
ERROR_BODY_MAX_BYTES = 64 * 1024


@dataclass(slots=True)
class _Progress:
    """What one stream has delivered so far, across retries."""

    started: float
    tokens: int = 0
    first_token_at: float | None = None
    last_token_at: float | None = None


class StreamDriver:
    """Runs one wire call as a stream of TokenEvents and one FinalEvent."""

    def __init__(
        self,
        client: EngineStreamClient,
        options: AdapterOptions,
        clock: Clock = time.monotonic,
    ) -> None:
        self.client = client
        self._engine = client.engine
        self._options = options
        self.clock = clock

    async def run(
        self, call: WireCall, new_decoder: Callable[[], WireDecoder]
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream `call`, retrying unreachable engines only before the first token."""
        progress = _Progress(started=self.clock())
        policy = self._options.retry
        attempt = 0
        body = orjson.dumps(call.body)
        while True:
            try:
                async with aclosing(self._attempt(call.path, body, new_decoder(), progress)) as events:
                    async for event in events:
                        yield event
                return
            except PoolUnavailable:
                if progress.tokens > 0 or attempt + 1 >= policy.attempts:
                    raise
                await policy.pause(attempt)
                attempt += 1

    async def _attempt(
        self, path: str, body: bytes, decoder: WireDecoder, progress: _Progress
    ) -> AsyncGenerator[StreamEvent, None]:
        response = await self._open(path, body, progress)
        try:
            if response.status >= 300:
                message = body_message(await response.read_all(ERROR_BODY_MAX_BYTES))
                raise error_for_status(response.status, message, self._engine)
            check_event_stream(response.headers.get("content-type", ""), self._engine)
            text = codecs.getincrementaldecoder("utf-8")("replace")
            reader = SseDataReader()
            finish: Finish | None = None
            while finish is None:
                payloads = await self._next_payloads(response, text, reader, progress)
                if payloads is None:
                    finish = decoder.at_eof()
                    break
                delivered = progress.tokens
                for payload in payloads:
                    for piece in decoder.feed(payload):
                        if isinstance(piece, Finish):
                            finish = piece
                            # The consumer may stop at the final event: the body's end is not its concern.
                            response.release()
                            break
                        if piece:
                            yield self._token(piece, progress)
                    if finish is not None:
                        break
                if progress.tokens != delivered:
                    progress.last_token_at = self.clock()
        finally:
            if not response.released:
                # An ended body leaves a reusable connection; one cut short must stop the engine (ORCH-7003).
                if response.complete:
                    response.release()
                else:
                    response.close()
        yield self._final(finish, progress)

    async def _open(self, path: str, body: bytes, progress: _Progress) -> EngineResponse:
        """The engine's response head, within what is left of the first-token timeout."""
        try:
            async with asyncio.timeout(max(self._remaining(progress), 0.0)):
                return await self.client.post(path, body)
        except TimeoutError as exc:
            raise DecodeTimeout(f"{self._engine} did not answer in time", engine=self._engine) from exc

    def _remaining(self, progress: _Progress) -> float:
        if progress.last_token_at is None:
            return self._options.first_token_timeout_s - (self.clock() - progress.started)
        return self._options.idle_timeout_s - (self.clock() - progress.last_token_at)

    async def _next_payloads(
        self,
        response: EngineResponse,
        text: codecs.IncrementalDecoder,
        reader: SseDataReader,
        progress: _Progress,
    ) -> list[str] | None:
        """The event payloads of the next chunk(s) that complete an event, None at the end of the body.

        One deadline per read, not per event: a chunk usually carries many events. Raises DecodeTimeout
        when the engine stays silent past the first-token or idle timeout.
        """
        try:
            async with asyncio.timeout(max(self._remaining(progress), 0.0)):
                while data := await response.chunk():
                    payloads = reader.feed(text.decode(data))
                    if payloads:
                        return payloads
        except TimeoutError as exc:
            waited = "the first token" if progress.tokens == 0 else "the next token"
            raise DecodeTimeout(
                f"{self._engine} sent no token in time for {waited}", engine=self._engine
            ) from exc
        return reader.feed(text.decode(b"", final=True)) + reader.flush() or None

    def _token(self, text: str, progress: _Progress) -> TokenEvent:
        if progress.first_token_at is None:
            progress.first_token_at = progress.last_token_at = self.clock()
        event = TokenEvent(text=text, index=progress.tokens)
        progress.tokens += 1
        return event

    def _final(self, finish: Finish, progress: _Progress) -> FinalEvent:
        end = self.clock()
        first = progress.first_token_at
        timings = Timings(
            first_token_ms=None if first is None else (first - progress.started) * 1000,
            decode_ms=0.0 if first is None else (end - first) * 1000,
            total_ms=(end - progress.started) * 1000,
            engine_prompt_ms=finish.engine_prompt_ms,
            engine_decode_ms=finish.engine_decode_ms,
        )
        return FinalEvent(
            tokens_in=finish.tokens_in or 0,
            tokens_out=finish.tokens_out if finish.tokens_out is not None else progress.tokens,
            stop_reason=finish.stop_reason,
            timings=timings,
            tool_calls=finish.tool_calls,
        )
