"""The shared mode's Redis clients bound their connections and make a call wait for a free one (ORCH-4111):
more concurrent blocking reads than connections all succeed, and a call that finds none free within
`state.op_timeout_ms` is a typed STATE_UNAVAILABLE, never redis-py's own error."""

from __future__ import annotations

import asyncio

import pytest

from contracts.config_schema.orchestratord import SharedState
from orchestrator_core.errors import StateUnavailable
from orchestratord.redis_state.client import shared_redis
from tests.redis_support import RedisServer


@pytest.mark.req("ORCH-4111")
async def test_more_concurrent_calls_than_connections_wait_for_one_and_all_succeed(
    redis_process: RedisServer,
) -> None:
    client = shared_redis(SharedState(backend="redis", url=redis_process.url, max_connections=3))
    try:
        # A blocking read takes a pooled connection (the short commands share the lane instead).
        for n in range(60):
            await client.xadd(f"stream-{n}", {"n": n})
        reads = [client.xread({f"stream-{n}": "0-0"}, block=50) for n in range(60)]
        answers = await asyncio.gather(*reads)
        assert [answer[0][1][0][1] for answer in answers] == [{b"n": str(n).encode()} for n in range(60)]
        pool = client.connection_pool
        opened = len(pool._available_connections) + len(pool._in_use_connections)  # type: ignore[attr-defined]
        assert 1 <= opened <= 3
    finally:
        await client.aclose()


@pytest.mark.req("ORCH-4111")
async def test_a_call_that_finds_no_free_connection_in_time_is_state_unavailable(
    redis_process: RedisServer,
) -> None:
    state = SharedState(backend="redis", url=redis_process.url, max_follow_connections=1, op_timeout_ms=300)
    following = shared_redis(state, following=True)
    try:
        held = await following.connection_pool.get_connection()  # as a long blocking read holds it
        with pytest.raises(StateUnavailable) as raised:
            await asyncio.wait_for(following.ping(), timeout=5)
        assert raised.value.code == "STATE_UNAVAILABLE"
        await following.connection_pool.release(held)
        assert await following.ping() is True
    finally:
        await following.aclose()
