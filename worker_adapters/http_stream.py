"""The shared stream driver of the HTTP adapters (ORCH-7002..7005).

It opens the engine stream inside `async with`, so closing the generator closes the upstream response
at once (ORCH-7003); maps every failure to a typed error; applies the first-token and inter-token idle
timeouts; and retries with full jitter only while no token has been delivered (ORCH-7005).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass

import httpx

from orchestrator_core.errors import DecodeTimeout, PoolUnavailable
from worker_adapters.errors import error_from_response, transport_errors
from worker_adapters.options import AdapterOptions
from worker_adapters.sse import iter_sse_data
from worker_adapters.types import FinalEvent, StreamEvent, Timings, TokenEvent
from worker_adapters.wire import Finish, Piece, WireCall, WireDecoder

Clock = Callable[[], float]


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
            with transport_errors(self._engine):
                request = self._client.stream("POST", call.path, json=call.body)
                response = await stack.enter_async_context(request)
                if response.status_code >= 300:
                    raise error_from_response(response, await response.aread(), self._engine)
            data = await stack.enter_async_context(aclosing(iter_sse_data(response)))
            finish: Finish | None = None
            while finish is None:
                payload = await self._next_data(data, progress)
                pieces: list[Piece] = [decoder.at_eof()] if payload is None else decoder.feed(payload)
                for piece in pieces:
                    if isinstance(piece, Finish):
                        finish = piece
                        break
                    if piece:
                        yield self._token(piece, progress)
        yield self._final(finish, progress)

    async def _next_data(self, data: AsyncGenerator[str, None], progress: _Progress) -> str | None:
        """The next event payload, None at the end of the body; raises DecodeTimeout when idle too long."""
        if progress.last_token_at is None:
            remaining = self._options.first_token_timeout_s - (self._clock() - progress.started)
        else:
            remaining = self._options.idle_timeout_s - (self._clock() - progress.last_token_at)
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                with transport_errors(self._engine, streaming=True):
                    return await anext(data)
        except StopAsyncIteration:
            return None
        except TimeoutError as exc:
            waited = "the first token" if progress.tokens == 0 else "the next token"
            raise DecodeTimeout(
                f"{self._engine} sent no token in time for {waited}", engine=self._engine
            ) from exc

    def _token(self, text: str, progress: _Progress) -> TokenEvent:
        now = self._clock()
        if progress.first_token_at is None:
            progress.first_token_at = now
        progress.last_token_at = now
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
