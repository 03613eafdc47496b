"""The Redis client of the shared mode: the boundary where redis-py's errors become ours (ORCH-1203).

Every command of the shared backend goes through `SharedRedis.execute_command` (scripts included) or a
pipeline's `execute`, so this is the one place that turns "Redis does not answer" (refused, reset, timed
out, still loading its data, a read-only replica after a failover) into `StateUnavailable`: a typed 503
with Retry-After at the edge, a paused dispatcher inside (ORCH-4111). Other Redis errors are bugs and stay
as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError

from contracts.config_schema.orchestratord import SharedState
from orchestrator_core.errors import StateUnavailable

# BusyLoadingError is a ConnectionError: a restarted Redis that is still loading its data answers with it.
UNREACHABLE = (ConnectionError, TimeoutError, ReadOnlyError)
RETRY_AFTER_MS = 1000


@contextlib.contextmanager
def reaching() -> Iterator[None]:
    try:
        yield
    except UNREACHABLE as error:
        raise StateUnavailable(
            f"the shared state (Redis) does not answer: {error}; try again shortly",
            retry_after_ms=RETRY_AFTER_MS,
        ) from error


class SharedPipeline(Pipeline):
    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        with reaching():
            return await super().execute(raise_on_error)


class SharedRedis(Redis):
    """redis-py's asyncio client, raising `StateUnavailable` when Redis does not answer."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        with reaching():
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return SharedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def shared_redis(state: SharedState, *, following: bool = False) -> SharedRedis:
    """The client of every shared piece (`following`: the one of the blocking stream reads). A call waits
    at most the configured timeout and is tried once more on a fresh connection (a restarted Redis leaves
    the pooled ones dead), so no request waits longer than twice `op_timeout_ms` for an absent Redis. Its
    pool is bounded and a call waits up to the timeout for a free connection (then `StateUnavailable`):
    redis-py's default pool refuses the 101st concurrent call at once, with an error of its own."""
    timeout_s = state.op_timeout_ms / 1000
    pool = BlockingConnectionPool.from_url(
        state.url,
        max_connections=state.max_follow_connections if following else state.max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
    )
    client = SharedRedis.from_pool(pool)  # the client owns the pool: closing it closes the connections
    assert isinstance(client, SharedRedis)  # from_pool builds `cls`; its annotation says Redis
    return client
