"""The mock engine behind the EngineAdapter protocol, in-process with no sockets (ORCH-7014).

It raises the same typed errors as the HTTP adapters for the same faults, so the conformance suite
runs unchanged against it: loading -> PoolUnavailable (retried before the first token), context
overflow -> InvalidParams, reset -> WorkerReset, error event -> Internal, stall -> DecodeTimeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Final

from mock_engine.engine import (
    ContextExceeded,
    EngineLoading,
    InjectedError,
    InjectedReset,
    MockEnd,
    MockEngine,
    MockToken,
    count_prompt_tokens,
)
from orchestrator_core.errors import DecodeTimeout, Internal, InvalidParams, PoolUnavailable, WorkerReset
from worker_adapters.errors import error_for_status
from worker_adapters.options import AdapterOptions
from worker_adapters.types import (
    EngineMetrics,
    FinalEvent,
    GenerateRequest,
    Health,
    Props,
    StreamEvent,
    Timings,
    TokenEvent,
)

ENGINE: Final = "mock"
MOCK_VERSION = "mock-1"


def request_text(request: GenerateRequest) -> str:
    """The text the mock tokenizes: the prompt, or the chat turns joined as a template would."""
    if request.prompt is not None:
        return request.prompt
    return "\n".join(f"<{m.role}> {m.content}" for m in request.messages or ())


class MockAdapter:
    """EngineAdapter over a MockEngine in the same process."""

    def __init__(self, engine: MockEngine, options: AdapterOptions | None = None) -> None:
        self.engine = engine
        self._options = options or AdapterOptions()

    async def health(self) -> Health:
        """Starting while loading, dead when the dead fault is set, else ready."""
        if self.engine.faults.dead:
            return Health(live=False, ready=False, state="dead", reason="mock engine marked dead")
        if self.engine.loading:
            return Health(live=True, ready=False, state="starting", reason="Loading model")
        return Health(live=True, ready=True, state="ready")

    async def props(self) -> Props:
        """Slots and context from the mock configuration."""
        self._refuse_if_loading()
        config = self.engine.config
        return Props(
            slots_total=config.slots,
            slots_idle=max(config.slots - self.engine.stats.running, 0),
            ctx_max=config.ctx_max,
            model_id=config.model_id,
            model_digest=None,
            engine=ENGINE,
            engine_version=MOCK_VERSION,
        )

    async def metrics(self) -> EngineMetrics:
        """The engine's own counters."""
        self._refuse_if_loading()
        stats = self.engine.stats
        return EngineMetrics(
            tokens_in_total=stats.prompt_tokens_total,
            tokens_out_total=stats.generated_tokens_total,
            requests_running=stats.running,
            requests_queued=stats.queued,
            kv_cache_usage=stats.running / self.engine.config.slots,
        )

    async def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        """Tokens and the final event; faults raise the same typed errors as the HTTP adapters."""
        text = request_text(request)
        prompt_tokens = count_prompt_tokens(text)
        await self._admit_with_retries(prompt_tokens, request.max_tokens)
        started = time.monotonic()
        steps = self.engine.generate(text, prompt_tokens, request.max_tokens, request.seed, request.stop)
        index = 0
        first_at: float | None = None
        async with aclosing(steps):
            while True:
                step = await self._next_step(steps, started_decoding=first_at is not None)
                if isinstance(step, MockEnd):
                    end = step
                    break
                for token in step:
                    first_at = first_at or time.monotonic()
                    yield TokenEvent(text=token.text, index=index)
                    index += 1
        yield self._final(end, started, first_at)

    def _final(self, end: MockEnd, started: float, first_at: float | None) -> FinalEvent:
        now = time.monotonic()
        return FinalEvent(
            tokens_in=end.tokens_in,
            tokens_out=end.tokens_out,
            stop_reason=end.stop_reason,
            timings=Timings(
                first_token_ms=None if first_at is None else (first_at - started) * 1000,
                decode_ms=0.0 if first_at is None else (now - first_at) * 1000,
                total_ms=(now - started) * 1000,
                engine_prompt_ms=end.prompt_ms,
                engine_decode_ms=end.decode_ms,
            ),
        )

    async def _next_step(
        self, steps: AsyncGenerator[list[MockToken] | MockEnd, None], *, started_decoding: bool
    ) -> list[MockToken] | MockEnd:
        timeout = self._options.idle_timeout_s if started_decoding else self._options.first_token_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await anext(steps)
        except TimeoutError as exc:
            raise DecodeTimeout("mock sent no token within the idle timeout", engine=ENGINE) from exc
        except InjectedReset as exc:
            raise WorkerReset(f"mock connection dropped mid-stream: {exc}", engine=ENGINE) from exc
        except InjectedError as exc:
            raise Internal(f"mock stream error: {exc}", engine=ENGINE) from exc

    async def _admit_with_retries(self, prompt_tokens: int, max_tokens: int) -> None:
        policy = self._options.retry
        for attempt in range(policy.attempts):
            try:
                self._admit(prompt_tokens, max_tokens)
                return
            except PoolUnavailable:
                if attempt + 1 >= policy.attempts:
                    raise
                await policy.pause(attempt)

    def _admit(self, prompt_tokens: int, max_tokens: int) -> None:
        faults = self.engine.faults
        if faults.dead:
            raise Internal("mock engine is dead", engine=ENGINE)
        if faults.fail_status is not None:
            raise error_for_status(faults.fail_status, "injected failure", ENGINE)
        try:
            self.engine.admit(prompt_tokens, max_tokens)
        except EngineLoading as exc:
            raise PoolUnavailable(f"mock answered 503: {exc}", engine=ENGINE) from exc
        except ContextExceeded as exc:
            raise InvalidParams(f"mock answered 400: {exc}", engine=ENGINE) from exc

    def _refuse_if_loading(self) -> None:
        if self.engine.loading:
            raise PoolUnavailable("mock answered 503: Loading model", engine=ENGINE)

    async def aclose(self) -> None:
        """Nothing to release in-process."""
