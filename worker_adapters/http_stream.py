"""The shared stream driver of the HTTP adapters (ORCH-7002..7005).

It opens the engine stream inside `async with`, so closing the generator closes the upstream response
at once (ORCH-7003); maps every failure to a typed error; applies the first-token and inter-token idle
timeouts; and retries with full jitter only while no token has been delivered (ORCH-7005). It reads the
body chunk by chunk: the deadline, the error mapping and the await cost once per chunk, not per event.
A stream that reached its final event leaves its response to the `BodyDrainer`, which reads the body's
end in the background so the connection goes back to the pool without holding up the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass
from typing import cast

import httpx

from orchestrator_core.errors import DecodeTimeout, PoolUnavailable
from worker_adapters.errors import error_from_response, error_from_transport, transport_errors
from worker_adapters.options import AdapterOptions
from worker_adapters.sse import SseDataReader, check_event_stream
from worker_adapters.types import FinalEvent, StreamEvent, Timings, TokenEvent
from worker_adapters.wire import Finish, WireCall, WireDecoder

Clock = Callable[[], float]
# After the final event only the body's end (a `[DONE]` line, the last chunk) is expected; an engine that
# takes longer or sends more than this costs the connection instead.
DRAIN_TIMEOUT_S = 1.0
DRAIN_MAX_CHARS = 64 * 1024
# Connections are kept for reuse only while at most this many streams are open on the replica. Under
# load a drained connection turns idle only after the next request has opened another one, and httpcore's
# pool scans every connection for each idle one whenever a request starts or ends, which cost more than
# half the throughput at 64 streams; a connect is then a small part of the time to first token anyway.
REUSE_UP_TO_STREAMS = 8


class BodyDrainer:
    """Reads the rest of finished stream bodies in background tasks, then closes their responses.

    A response closed before its body has ended takes its connection down, and the next request then
    pays for a new one. The consumer has what it needs at the final event, so the wait for the body's
    end must not delay it (nor the slot it holds): it happens here, bounded in time and size.
    """

    def __init__(
        self,
        timeout_s: float = DRAIN_TIMEOUT_S,
        max_chars: int = DRAIN_MAX_CHARS,
        reuse_up_to: int = REUSE_UP_TO_STREAMS,
    ) -> None:
        self._timeout_s = timeout_s
        self._max_chars = max_chars
        self._reuse_up_to = reuse_up_to
        self._streams = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        """Counts a stream as open for as long as the block runs."""
        self._streams += 1
        try:
            yield
        finally:
            self._streams -= 1

    def adopt(self, response: AsyncExitStack, chunks: AsyncIterator[str]) -> None:
        """Take over a response whose final event was read: drain `chunks`, then exit what is popped from
        `response`; while too many streams are open to keep the connection, `response` is left as it is."""
        if self._streams > self._reuse_up_to:
            return
        task = asyncio.create_task(self._drain(response.pop_all(), chunks))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, response: AsyncExitStack, chunks: AsyncIterator[str]) -> None:
        async with response:
            read = 0
            with contextlib.suppress(TimeoutError, httpx.HTTPError):
                async with asyncio.timeout(self._timeout_s):
                    async for text in chunks:
                        read += len(text)
                        if read > self._max_chars:
                            return

    async def aclose(self) -> None:
        """Stop every drain at once, closing its response and connection."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
        client: httpx.AsyncClient,
        engine: str,
        options: AdapterOptions,
        clock: Clock = time.monotonic,
    ) -> None:
        self.drainer = BodyDrainer()
        self._client = client
        self._engine = engine
        self._options = options
        self._clock = clock

    async def run(
        self, call: WireCall, new_decoder: Callable[[], WireDecoder]
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream `call`, retrying unreachable engines only before the first token."""
        progress = _Progress(started=self._clock())
        policy = self._options.retry
        attempt = 0
        while True:
            try:
                async with aclosing(self._attempt(call, new_decoder(), progress)) as events:
                    async for event in events:
                        yield event
                return
            except PoolUnavailable:
                if progress.tokens > 0 or attempt + 1 >= policy.attempts:
                    raise
                await policy.pause(attempt)
                attempt += 1

    async def _attempt(
        self, call: WireCall, decoder: WireDecoder, progress: _Progress
    ) -> AsyncGenerator[StreamEvent, None]:
        async with AsyncExitStack() as stack:
            stack.enter_context(self.drainer.counting())
            with transport_errors(self._engine):
                request = self._client.stream("POST", call.path, json=call.body)
                response = await stack.enter_async_context(request)
                if response.status_code >= 300:
                    raise error_from_response(response, await response.aread(), self._engine)
                check_event_stream(response)
            text = cast(AsyncGenerator[str, None], response.aiter_text())
            chunks = await stack.enter_async_context(aclosing(text))
            reader = SseDataReader()
            finish: Finish | None = None
            while finish is None:
                payloads = await self._next_payloads(chunks, reader, progress)
                if payloads is None:
                    finish = decoder.at_eof()
                    break
                delivered = progress.tokens
                for payload in payloads:
                    for piece in decoder.feed(payload):
                        if isinstance(piece, Finish):
                            finish = piece
                            # The response may now outlive this generator: closing it at the final
                            # event must not cut the body's end off (ORCH-7003).
                            self.drainer.adopt(stack, chunks)
                            break
                        if piece:
                            yield self._token(piece, progress)
                    if finish is not None:
                        break
                if progress.tokens != delivered:
                    progress.last_token_at = self._clock()
        yield self._final(finish, progress)

    async def _next_payloads(
        self, chunks: AsyncIterator[str], reader: SseDataReader, progress: _Progress
    ) -> list[str] | None:
        """The event payloads of the next chunk(s) that complete an event, None at the end of the body.

        One deadline per read, not per event: a chunk usually carries many events. Raises DecodeTimeout
        when the engine stays silent past the first-token or idle timeout.
        """
        if progress.last_token_at is None:
            remaining = self._options.first_token_timeout_s - (self._clock() - progress.started)
        else:
            remaining = self._options.idle_timeout_s - (self._clock() - progress.last_token_at)
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                while True:
                    payloads = reader.feed(await anext(chunks))
                    if payloads:
                        return payloads
        except StopAsyncIteration:
            return reader.flush() or None
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, self._engine, streaming=True) from exc
        except TimeoutError as exc:
            waited = "the first token" if progress.tokens == 0 else "the next token"
            raise DecodeTimeout(
                f"{self._engine} sent no token in time for {waited}", engine=self._engine
            ) from exc

    def _token(self, text: str, progress: _Progress) -> TokenEvent:
        if progress.first_token_at is None:
            progress.first_token_at = progress.last_token_at = self._clock()
        event = TokenEvent(text=text, index=progress.tokens)
        progress.tokens += 1
        return event

    def _final(self, finish: Finish, progress: _Progress) -> FinalEvent:
        end = self._clock()
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
        )
