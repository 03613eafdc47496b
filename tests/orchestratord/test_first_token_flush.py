"""The first token reaches a waiting reader at once, not after the rest of the engine's burst."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from mock_engine.faults import MockConfig
from orchestratord.wiring import Services
from tests.orchestratord.orchd_harness import MockReplica, eventually, running_daemon
from worker_adapters.types import FinalEvent, GenerateRequest, StreamEvent, Timings, TokenEvent

BURST = 8


class BurstAdapter(MockAdapter):
    """Hands over a whole burst of tokens without awaiting, as the HTTP adapters do for a received chunk."""

    def __init__(self, engine: MockEngine, gate: asyncio.Event) -> None:
        super().__init__(engine)
        self._gate = gate

    async def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        await self._gate.wait()
        for index in range(BURST):
            yield TokenEvent(text=f" t{index}", index=index)
        yield FinalEvent(tokens_in=2, tokens_out=BURST, stop_reason="limit", timings=Timings(None, 0.0, 0.0))


@pytest.mark.req("ORCH-4007", "ORCH-9204")
async def test_a_waiting_reader_gets_started_and_the_first_token_before_the_rest_of_the_burst() -> None:
    gate = asyncio.Event()
    replica = MockReplica("burst", slots=1)

    def use_burst_adapter(services: Services) -> None:
        registered = services.replicas.get("burst")
        engine = MockEngine(MockConfig(slots=1))
        services.replicas.register(registered.spec, BurstAdapter(engine, gate))

    async with running_daemon([replica], services_hook=use_burst_adapter) as daemon:
        task_id = (await daemon.submit(max_tokens=BURST)).json()["task_id"]
        record = daemon.services.registry.get(task_id)
        chunks: list[bytes] = []

        async def read() -> None:
            chunks.extend([chunk async for chunk in daemon.services.tasks.follow(record)])

        reader = asyncio.create_task(read())
        await eventually(lambda: record.transcript.readers == 1)
        gate.set()
        async with asyncio.timeout(5):
            await reader

    first = chunks[0]
    assert first.startswith(b"event: started\n")
    assert b"id: 0\n" in first
    assert b"id: 1\n" not in first, "the first token waited for the rest of the burst"
    assert b"".join(chunks).count(b"event: token") == BURST
