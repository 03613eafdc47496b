"""Fixtures of the adapter suites: one `Target` per adapter, each backed by a mock engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest

from worker_adapters.factory import create_adapter
from worker_adapters.mock import Faults, MockAdapter, MockConfig, MockEngine, serve_mock
from worker_adapters.options import AdapterOptions
from worker_adapters.protocol import EngineAdapter
from worker_adapters.retry import RetryPolicy

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
        adapter = MockAdapter(engine, options)
        yield Target(name, adapter, engine, None, TRAITS[name])
        return
    async with serve_mock(name, config, faults) as server:  # type: ignore[arg-type]
        adapter = create_adapter(name, server.base_url, options)
        try:
            yield Target(name, adapter, server.engine, server.base_url, TRAITS[name])
        finally:
            await adapter.aclose()


@pytest.fixture(params=TARGETS)
def target_name(request: pytest.FixtureRequest) -> str:
    """Each adapter in turn."""
    return str(request.param)


@pytest.fixture
def make_target(target_name: str) -> TargetFactory:
    """Open the current adapter against a mock configured by the test."""

    def factory(
        config: MockConfig | None = None, faults: Faults | None = None, options: AdapterOptions | None = None
    ) -> AbstractAsyncContextManager[Target]:
        return open_target(target_name, config, faults, options)

    return factory
