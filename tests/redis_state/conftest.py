"""Fixtures of the shared-state tests: one real redis-server per session, a fresh database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.redis_support import RedisServer, redis_server


@pytest.fixture(scope="session")
def redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(Path(tmp_path_factory.mktemp("redis"))) as server:
        yield server


@pytest.fixture
async def redis(redis_process: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_process.url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
