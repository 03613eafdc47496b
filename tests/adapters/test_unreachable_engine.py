"""HTTP adapters facing an engine that does not listen: refused connections and vanished processes."""

from __future__ import annotations

import socket

import pytest

from mock_engine import serve_mock
from orchestrator_core.errors import PoolUnavailable
from tests.adapters.helpers import collect, fast_options, request
from worker_adapters.factory import HTTP_ENGINES, create_adapter
from worker_adapters.retry import RetryPolicy

pytestmark = [pytest.mark.req("ORCH-7004", "ORCH-7008"), pytest.mark.parametrize("engine", HTTP_ENGINES)]


def closed_port() -> int:
    """A port with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_refused_connection_is_pool_unavailable_after_retries(engine: str) -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    policy = RetryPolicy(attempts=3, base_s=0.1, cap_s=1.0, sleep=sleep, uniform=lambda low, high: high)
    adapter = create_adapter(engine, f"http://127.0.0.1:{closed_port()}", fast_options(retry=policy))
    try:
        with pytest.raises(PoolUnavailable, match="unreachable"):
            await collect(adapter, request())
    finally:
        await adapter.aclose()
    assert pauses == [0.1, 0.2]


async def test_refused_connection_probes_as_starting_never_raising(engine: str) -> None:
    adapter = create_adapter(engine, f"http://127.0.0.1:{closed_port()}", fast_options())
    try:
        health = await adapter.health()
        with pytest.raises(PoolUnavailable):
            await adapter.props()
        with pytest.raises(PoolUnavailable):
            await adapter.metrics()
    finally:
        await adapter.aclose()
    assert (health.state, health.live, health.ready) == ("starting", False, False)


async def test_engine_that_stops_answering_after_ready_probes_as_dead(engine: str) -> None:
    async with serve_mock(engine) as server:  # type: ignore[arg-type]
        adapter = create_adapter(engine, server.base_url, fast_options())
        assert (await adapter.health()).state == "ready"
    try:
        health = await adapter.health()
    finally:
        await adapter.aclose()
    assert (health.state, health.ready) == ("dead", False)
