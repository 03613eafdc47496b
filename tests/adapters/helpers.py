"""Helpers shared by the adapter tests: targets (adapter + mock engine), requests, stream collection."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from mock_engine import Faults, MockAdapter, MockConfig, MockEngine, serve_mock
from mock_engine.engine import token_at
from worker_adapters.factory import create_adapter
from worker_adapters.options import AdapterOptions
from worker_adapters.protocol import EngineAdapter
from worker_adapters.retry import RetryPolicy
from worker_adapters.types import FinalEvent, GenerateRequest, TokenEvent

PROMPT = "the quick brown fox jumps over the lazy dog"
TARGETS = ("llamacpp", "vllm", "tgi", "triton", "inproc")


@dataclass(frozen=True)
class Traits:
    """Wire behaviours that legitimately differ between engines."""

    stop_text_in_output: bool = False
    eos_counted_as_token: bool = False
    token_metrics: bool = True
    http: bool = True


TRAITS = {
    "llamacpp": Traits(),
    "vllm": Traits(),
    "tgi": Traits(stop_text_in_output=True, eos_counted_as_token=True),
    "triton": Traits(stop_text_in_output=True, token_metrics=False),
    "inproc": Traits(http=False),
}


@dataclass
class Target:
    """An adapter under test and the mock engine behind it."""

    name: str
    adapter: EngineAdapter
    engine: MockEngine
    base_url: str | None
    traits: Traits


def fast_options(**changes: object) -> AdapterOptions:
    """Short timeouts and quick retries so failure paths take milliseconds."""
    values: dict[str, object] = {
        "idle_timeout_s": 0.3,
        "first_token_timeout_s": 0.5,
        "retry": RetryPolicy(attempts=3, base_s=0.01, cap_s=0.02),
        "slots_total": None,
    }
    values.update(changes)
    return AdapterOptions(**values)  # type: ignore[arg-type]


TargetFactory = Callable[..., AbstractAsyncContextManager[Target]]


@asynccontextmanager
async def open_target(
    name: str,
    config: MockConfig | None = None,
    faults: Faults | None = None,
    options: AdapterOptions | None = None,
) -> AsyncIterator[Target]:
    """The adapter `name` against a fresh mock engine (HTTP wire or in-process)."""
    options = options or fast_options()
    if name == "inproc":
        engine = MockEngine(config, faults)
        yield Target(name, MockAdapter(engine, options), engine, None, TRAITS[name])
        return
    async with serve_mock(name, config, faults) as server:  # type: ignore[arg-type]
        adapter = create_adapter(name, server.base_url, options)
        try:
            yield Target(name, adapter, server.engine, server.base_url, TRAITS[name])
        finally:
            await adapter.aclose()


def request(max_tokens: int = 12, seed: int = 7, prompt: str = PROMPT, **changes: object) -> GenerateRequest:
    """A completion request with explicit sampling."""
    return GenerateRequest(prompt=prompt, max_tokens=max_tokens, seed=seed, **changes)  # type: ignore[arg-type]


def expected_words(prompt: str, seed: int, count: int) -> list[str]:
    """What the mock engine generates for (prompt, seed), read from its vocabulary draw."""
    rng = random.Random(f"{seed}|{prompt}")
    return [token_at(rng).text for _ in range(count)]


async def collect(adapter: EngineAdapter, req: GenerateRequest) -> tuple[list[TokenEvent], FinalEvent]:
    """Every token event and the final event of one stream; fails if the shape is wrong."""
    tokens: list[TokenEvent] = []
    finals: list[FinalEvent] = []
    async for event in adapter.stream(req):
        assert not finals, "nothing may follow the final event"
        if isinstance(event, TokenEvent):
            tokens.append(event)
        else:
            finals.append(event)
    assert len(finals) == 1
    return tokens, finals[0]
