"""The shared mode's short Redis commands share one multiplexed connection (ORCH-4119), on a real
redis-server: each caller gets its own reply in the shape redis-py's pooled connections give it, error
replies stay with their caller, and a Redis that stops answering is a typed STATE_UNAVAILABLE within the
timeout, after which the lane reaches it again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from contracts.config_schema.orchestratord import SharedState
from orchestrator_core.errors import StateUnavailable
from orchestratord.redis_state.client import SharedRedis, shared_redis
from tests.redis_support import RedisServer

OP_TIMEOUT_MS = 400


@pytest.fixture
async def lane_client(redis_process: RedisServer, redis: Redis) -> AsyncIterator[SharedRedis]:
    client = shared_redis(SharedState(backend="redis", url=redis_process.url, op_timeout_ms=OP_TIMEOUT_MS))
    assert client.lane is not None
    try:
        yield client
    finally:
        await client.aclose()


async def _clients_running(redis: Redis, command: str) -> int:
    clients = await redis.client_list()
    return sum(1 for client in clients if client.get("cmd") == command)


@pytest.mark.req("ORCH-4119")
async def test_concurrent_commands_share_one_connection_and_each_caller_gets_its_own_reply(
    lane_client: SharedRedis, redis: Redis
) -> None:
    answers = await asyncio.gather(*(lane_client.echo(f"call-{n}") for n in range(500)))
    assert answers == [f"call-{n}".encode() for n in range(500)]
    assert await _clients_running(redis, "echo") == 1
    pool = lane_client.connection_pool
    assert not pool._available_connections and not pool._in_use_connections  # type: ignore[attr-defined]


@pytest.mark.req("ORCH-4119")
async def test_an_error_reply_is_raised_to_its_caller_only_and_the_lane_goes_on(
    lane_client: SharedRedis, redis: Redis
) -> None:
    await redis.set("a-string", "x")
    answers = await asyncio.gather(
        lane_client.echo("before"),
        lane_client.hgetall("a-string"),  # WRONGTYPE
        lane_client.echo("after"),
        return_exceptions=True,
    )
    assert answers[0] == b"before" and answers[2] == b"after"
    assert isinstance(answers[1], ResponseError) and "WRONGTYPE" in str(answers[1])
    assert await lane_client.get("a-string") == b"x"


@pytest.mark.req("ORCH-4119")
async def test_a_script_redis_does_not_hold_is_loaded_and_run(lane_client: SharedRedis, redis: Redis) -> None:
    script = lane_client.register_script("return {KEYS[1], tonumber(ARGV[1]) + 1}")
    assert await script(keys=["k"], args=[41]) == [b"k", 42]
    await redis.script_flush()
    assert await script(keys=["k"], args=[1]) == [b"k", 2]


@pytest.mark.req("ORCH-4119")
async def test_replies_have_the_shapes_of_the_pooled_client(
    lane_client: SharedRedis, redis_process: RedisServer, redis: Redis
) -> None:
    pooled = shared_redis(SharedState(backend="redis", url=redis_process.url), following=True)
    assert pooled.lane is None
    await redis.hset("h", mapping={"a": 1, "b": "two"})
    await redis.zadd("z", {"x": 1.5, "y": 2})
    await redis.xadd("s", {"f": "v"}, id="1-1")
    await redis.xadd("s", {"g": "w"}, id="2-1")
    await redis.set("n", 7)

    async def asked(client: SharedRedis) -> list[object]:
        return [
            await client.hgetall("h"),
            await client.hget("h", "a"),
            await client.hvals("h"),
            await client.hgetall("missing"),
            await client.zrange("z", 0, -1, withscores=True),
            await client.xread({"s": "0-0"}),
            await client.xrange("s"),
            await client.mget(["n", "missing"]),
            await client.set("m", 1, px=5000),
            await client.set("n", 8, nx=True),
            await client.delete("m"),
            await client.exists("n"),
            await client.ping(),
        ]

    try:
        assert await asked(lane_client) == await asked(pooled)
    finally:
        await pooled.aclose()


@pytest.mark.req("ORCH-4119", "ORCH-4111")
async def test_a_stopped_redis_is_state_unavailable_within_the_timeout_and_is_reached_again_after(
    lane_client: SharedRedis, redis_process: RedisServer
) -> None:
    assert await lane_client.ping() is True
    os.kill(redis_process.process.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        results = await asyncio.gather(*(lane_client.echo(f"{n}") for n in range(20)), return_exceptions=True)
        took_s = time.monotonic() - began
        assert all(isinstance(result, StateUnavailable) for result in results), results
        assert all(
            result.code == "STATE_UNAVAILABLE" for result in results if isinstance(result, StateUnavailable)
        )
        # The watchdog's check, the timeout, and one shared attempt to open again: far from a hang.
        assert took_s < 3 * OP_TIMEOUT_MS / 1000 + 0.5, took_s
    finally:
        os.kill(redis_process.process.pid, signal.SIGCONT)
    assert await lane_client.echo("back") == b"back"
