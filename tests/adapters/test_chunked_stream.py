"""A burst of events in one HTTP chunk is handled as one read: tokens in order, errors after the tokens
that preceded them, and the idle deadline computed per read, not per event (ORCH-7002, ORCH-7004)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest

from orchestrator_core.errors import PoolUnavailable
from tests.adapters.helpers import fast_options, request
from tests.adapters.scripted_engine import Reply, ScriptedEngine
from worker_adapters.factory import create_adapter
from worker_adapters.llamacpp_http import LlamaCppHttpAdapter
from worker_adapters.protocol import EngineAdapter
from worker_adapters.types import FinalEvent, TokenEvent

BURST = 64


def token_event(i: int) -> bytes:
    return b"data: " + orjson.dumps({"content": f"w{i} ", "stop": False}) + b"\n\n"


STOP = b'data: {"content":"","stop":true,"stop_type":"limit","tokens_predicted":64,"tokens_evaluated":3}\n\n'
ERROR = b'data: {"error":{"code":503,"message":"overloaded"}}\n\n'


class CountingClock:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return time.monotonic()


@asynccontextmanager
async def adapter_for(body: bytes, clock: CountingClock | None = None) -> AsyncIterator[EngineAdapter]:
    """The llama.cpp adapter against an engine that sends `body` as one chunk, timed by `clock`."""
    async with ScriptedEngine() as server:
        server.route("POST", "/completion", Reply.sse([body]))
        adapter = create_adapter("llamacpp", server.base_url, fast_options())
        if clock is not None:
            assert isinstance(adapter, LlamaCppHttpAdapter)
            # Swapping the clock on the adapter's driver keeps this test free of how the driver is built.
            adapter._http.driver.clock = clock
        try:
            yield adapter
        finally:
            await adapter.aclose()


@pytest.mark.req("ORCH-7002")
async def test_a_burst_in_one_chunk_streams_every_token_in_order_with_per_read_bookkeeping() -> None:
    clock = CountingClock()
    async with adapter_for(b"".join(token_event(i) for i in range(BURST)) + STOP, clock) as adapter:
        events = [event async for event in adapter.stream(request(max_tokens=BURST))]
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert [(t.index, t.text) for t in tokens] == [(i, f"w{i} ") for i in range(BURST)]
    assert isinstance(events[-1], FinalEvent) and events[-1].tokens_out == BURST
    # Start, deadline, first token, after the burst, end: a handful, however many events the chunk held.
    assert 0 < clock.calls <= 8


@pytest.mark.req("ORCH-7004", "ORCH-7005")
async def test_an_error_event_after_tokens_in_the_same_chunk_comes_after_those_tokens() -> None:
    seen: list[int] = []
    async with adapter_for(token_event(0) + token_event(1) + ERROR + token_event(2)) as adapter:
        with pytest.raises(PoolUnavailable):
            async for event in adapter.stream(request(max_tokens=10)):
                assert isinstance(event, TokenEvent)
                seen.append(event.index)
    assert seen == [0, 1]
