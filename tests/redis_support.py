"""Shared-state test support: the real redis-server (test_harness/redis_server.py) and a state machine
base that drives the shared backend on its own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from hypothesis.stateful import RuleBasedStateMachine
from redis.asyncio import Redis

from test_harness.redis_server import RedisServer, redis_server, server_binary

__all__ = ["RedisMachine", "RedisServer", "redis_server", "server_binary"]
T = TypeVar("T")


class RedisMachine(RuleBasedStateMachine):
    """A state machine whose rules call the shared backend on its own loop: each example gets a client
    on the run's redis-server (`url`, set by the test) and an empty database."""

    url = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.client = Redis.from_url(self.url)
        self.run(self.client.flushdb())

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)  # type: ignore[arg-type]

    def teardown(self) -> None:
        self.run(self.client.aclose())
        self.loop.close()
