"""A replica busy on every slot keeps streaming and answering probes: the stream client is sized from the
slots and probes have their own connections."""

from __future__ import annotations

import asyncio

import pytest

from mock_engine import Faults, MockConfig, serve_mock
from tests.adapters.helpers import collect, request
from worker_adapters.factory import create_adapter
from worker_adapters.options import AdapterOptions
from worker_adapters.retry import RetryPolicy
from worker_adapters.types import Health

# More slots than any fixed default limit of 64 connections would allow.
SLOTS = 80
TOKENS = 20


@pytest.mark.req("ORCH-7001", "ORCH-7008")
async def test_every_slot_streams_at_once_while_health_stays_ready() -> None:
    # Each stream lasts about TOKENS * 60 ms, longer than the 1 s connect (pool) timeout, so a stream
    # or a probe that had to wait for a connection would fail.
    faults = Faults(token_delay_ms=60)
    options = AdapterOptions(
        probe_timeout_s=1.0,
        connect_timeout_s=1.0,
        idle_timeout_s=10.0,
        first_token_timeout_s=10.0,
        retry=RetryPolicy(attempts=1),
        slots_total=SLOTS,
    )
    async with serve_mock("llamacpp", MockConfig(slots=SLOTS), faults) as server:
        adapter = create_adapter("llamacpp", server.base_url, options)
        try:
            streams = [
                asyncio.create_task(collect(adapter, request(max_tokens=TOKENS, seed=i)))
                for i in range(SLOTS)
            ]
            probes: list[Health] = []
            while not all(stream.done() for stream in streams):
                probes.append(await adapter.health())
                await asyncio.sleep(0.1)
            results = await asyncio.gather(*streams)
        finally:
            await adapter.aclose()
    assert [len(tokens) for tokens, _ in results] == [TOKENS] * SLOTS
    assert [final.stop_reason for _, final in results] == ["limit"] * SLOTS
    assert len(probes) >= 5
    assert [probe.state for probe in probes] == ["ready"] * len(probes)
