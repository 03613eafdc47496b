"""The emulated engine shared by the in-process MockAdapter and the HTTP wire emulations (ORCH-7014).

Content is deterministic: token i of a request is drawn from a fixed vocabulary by a PRNG seeded with
(seed, prompt), so the same request always gives the same stream. Requests beyond the slot count wait
for a slot, as in llama.cpp. Without a token delay, tokens come in batches so one write carries many.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from mock_engine.faults import Faults, MockConfig
from worker_adapters.types import StopReason

_WORDS = (
    "the of and to in is was for on that with as by at from his her an were are which this be or had "
    "not but they have one all their there been has when who will more no if out so said what up its "
    "about into than them can only other new some could time these two may then do first any my now "
    "such like our over man me even most made after also did many before must through back years where "
    "much your way well down should because each just those people how too little state good very make "
    "world still own see men work long get here between both life being under never day same another "
    "know while last might us great old year off come since against go came right used take three river "
    "stone light garden window paper city music ocean forest bridge winter summer"
).split()
VOCABULARY: tuple[str, ...] = tuple(f" {word}" for word in _WORDS)
BATCH_LIMIT = 64
FIRST_TOKEN_ID = 100


class InjectedReset(Exception):
    """Raised inside a stream to drop the connection (fault `fail_at`)."""


class InjectedError(Exception):
    """Raised inside a stream to send an engine error event (fault `error_at`)."""


class EngineLoading(Exception):
    """Raised for a request that arrives while the model is loading."""


class ContextExceeded(Exception):
    """Raised for a prompt that does not fit the context window."""


@dataclass(frozen=True, slots=True)
class MockToken:
    """One generated token."""

    text: str
    token_id: int


@dataclass(frozen=True, slots=True)
class MockEnd:
    """How a stream ended; `stop_token` is the token that matched a stop string, if any."""

    stop_reason: StopReason
    tokens_in: int
    tokens_out: int
    stop_token: MockToken | None = None
    prompt_ms: float = 0.0
    decode_ms: float = 0.0


@dataclass(slots=True)
class MockStats:
    """Server-side observations, so tests can check what the engine saw."""

    prompt_tokens_total: int = 0
    generated_tokens_total: int = 0
    running: int = 0
    queued: int = 0
    started: int = 0
    finished: int = 0
    ended_early: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)


def count_prompt_tokens(text: str) -> int:
    """The mock tokenizer: one token per whitespace-separated word, at least one."""
    return max(len(text.split()), 1)


def token_at(rng: random.Random) -> MockToken:
    """The next token drawn from the request's PRNG."""
    position = rng.randrange(len(VOCABULARY))
    return MockToken(VOCABULARY[position], FIRST_TOKEN_ID + position)


class MockEngine:
    """One emulated replica with fault injection; create it inside the event loop that uses it."""

    def __init__(
        self,
        config: MockConfig | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or MockConfig()
        self.faults = faults or Faults()
        self.stats = MockStats()
        # The last request bodies of the generation routes, so tests can see what an adapter sent.
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=32)
        self._clock = clock
        self._loading_until = clock() + self.config.loading_s
        self._slots = asyncio.Semaphore(self.config.slots)
        self._idle = asyncio.Event()
        self._idle.set()

    def start_loading(self, seconds: float) -> None:
        """Answer as a loading engine for `seconds` from now."""
        self._loading_until = self._clock() + seconds

    @property
    def loading(self) -> bool:
        """Whether the model is still loading."""
        return self._clock() < self._loading_until

    @property
    def loading_remaining_s(self) -> float:
        """Seconds until the model is loaded."""
        return max(self._loading_until - self._clock(), 0.0)

    @property
    def active(self) -> int:
        """Requests holding or waiting for a slot."""
        return self.stats.running + self.stats.queued

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is active; False when `timeout_s` passed first."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def admit(self, prompt_tokens: int, max_tokens: int) -> None:
        """Refuse a request the engine cannot take; raises EngineLoading or ContextExceeded."""
        if self.loading:
            raise EngineLoading("Loading model")
        if prompt_tokens >= self.config.ctx_max:
            raise ContextExceeded(
                f"request ({prompt_tokens} tokens) exceeds the available context size "
                f"({self.config.ctx_max} tokens)"
            )

    async def generate(
        self, prompt: str, prompt_tokens: int, max_tokens: int, seed: int, stop: tuple[str, ...]
    ) -> AsyncGenerator[list[MockToken] | MockEnd, None]:
        """Batches of tokens, then one MockEnd; raises the injected faults."""
        self.stats.queued += 1
        self.stats.started += 1
        self._idle.clear()
        finished = False
        holding = False
        try:
            async with self._slots:
                holding = True
                self.stats.queued -= 1
                self.stats.running += 1
                async for step in self._decode(prompt, prompt_tokens, max_tokens, seed, stop):
                    finished = isinstance(step, MockEnd)
                    yield step
        finally:
            if holding:
                self.stats.running -= 1
            else:
                self.stats.queued -= 1
            self._end(finished)

    def _end(self, finished: bool) -> None:
        if finished:
            self.stats.finished += 1
        else:
            self.stats.ended_early += 1
        if self.active == 0:
            self._idle.set()

    async def _decode(
        self, prompt: str, prompt_tokens: int, max_tokens: int, seed: int, stop: tuple[str, ...]
    ) -> AsyncGenerator[list[MockToken] | MockEnd, None]:
        faults = self.faults
        started = self._clock()
        self.stats.prompt_tokens_total += prompt_tokens
        if faults.ttft_ms:
            await asyncio.sleep(faults.ttft_ms / 1000)
        prompt_ms = (self._clock() - started) * 1000
        rng = random.Random(f"{seed}|{prompt}")
        stop_words = {s.strip() for s in stop}
        limit = min(max_tokens, faults.eos_at or max_tokens)
        produced = 0
        batch: list[MockToken] = []
        while True:
            if batch and (self._fault_due(produced) or faults.token_delay_ms or len(batch) >= BATCH_LIMIT):
                yield batch
                batch = []
                if not faults.token_delay_ms:
                    await asyncio.sleep(0)  # let other streams and the event loop run between batches
            await self._inject(produced)
            if produced >= limit:
                break
            if faults.token_delay_ms:
                await asyncio.sleep(faults.token_delay_ms / 1000)
            token = token_at(rng)
            if token.text.strip() in stop_words:
                if batch:
                    yield batch
                yield self._done("stop", prompt_tokens, produced, started, prompt_ms, token)
                return
            batch.append(token)
            produced += 1
            self.stats.generated_tokens_total += 1
        if batch:
            yield batch
        reason: StopReason = "limit" if produced >= max_tokens else "eos"
        yield self._done(reason, prompt_tokens, produced, started, prompt_ms, None)

    def _fault_due(self, produced: int) -> bool:
        faults = self.faults
        return produced in (faults.fail_at, faults.error_at, faults.stall_at)

    async def _inject(self, produced: int) -> None:
        """Raise or stall when a fault is due at this token position."""
        faults = self.faults
        if faults.fail_at == produced:
            raise InjectedReset(f"injected connection reset after {produced} tokens")
        if faults.error_at == produced:
            raise InjectedError(f"injected engine error after {produced} tokens")
        if faults.stall_at == produced:
            await asyncio.Event().wait()  # stall until the client goes away

    def _done(
        self,
        reason: StopReason,
        prompt_tokens: int,
        produced: int,
        started: float,
        prompt_ms: float,
        stop_token: MockToken | None,
    ) -> MockEnd:
        self.stats.finish_reasons[reason] = self.stats.finish_reasons.get(reason, 0) + 1
        decode_ms = (self._clock() - started) * 1000 - prompt_ms
        return MockEnd(reason, prompt_tokens, produced, stop_token, prompt_ms, decode_ms)
