"""The Redis client of the shared mode: the boundary where redis-py's errors become ours (ORCH-1203).

Every command of the shared backend goes through `SharedRedis.execute_command` (scripts included) or a
pipeline's `execute`; the short ones travel on one multiplexed connection (`lane.py`), the blocking
reads, pub/sub and pipelines on pooled ones. This is the one place that turns "Redis does not answer"
(refused, reset, timed out, still loading its data, a read-only replica after a failover) into
`StateUnavailable`: a typed 503 with Retry-After at the edge, a paused dispatcher inside (ORCH-4111).
Other Redis errors are bugs and stay as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import BlockingConnectionPool, Connection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.client import EMPTY_RESPONSE
from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError, TimeoutError

from contracts.config_schema.orchestratord import SharedState
from orchestrator_core.errors import StateUnavailable

from .lane import Lane, LaneAddress

# BusyLoadingError is a ConnectionError: a restarted Redis that is still loading its data answers with it.
UNREACHABLE = (ConnectionError, TimeoutError, ReadOnlyError)
RETRY_AFTER_MS = 1000
# Commands whose reply may wait for data: they would hold up every reply behind them on the lane.
WAITING = frozenset(
    {"XREAD", "XREADGROUP", "BLPOP", "BRPOP", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "WAIT"}
)


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
    """redis-py's asyncio client, raising `StateUnavailable` when Redis does not answer; with a `lane`,
    the commands that answer at once take it instead of a pooled connection."""

    lane: Lane | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        lane = self.lane
        with reaching():
            if lane is None or str(args[0]).upper() in WAITING:
                return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
            try:
                try:
                    reply = await lane.call(args)
                except (ConnectionError, TimeoutError):  # once more on a fresh connection, as pooled
                    reply = await lane.call(args)
            except ResponseError:
                if EMPTY_RESPONSE in options:
                    return options[EMPTY_RESPONSE]
                raise
        return self._parsed(args[0], reply, options)

    def _parsed(self, command: Any, reply: Any, options: dict[str, Any]) -> Any:
        """The reply in the shape redis-py's own parsing gives it (its response callbacks)."""
        options.pop("keys", None)
        options.pop(EMPTY_RESPONSE, None)
        options.pop("NEVER_DECODE", None)  # the lane never decodes
        callback = self.response_callbacks.get(command)
        return reply if callback is None else callback(reply, **options)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self.lane is not None:
            await self.lane.aclose()
        await super().aclose(close_connection_pool)

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
    if not following:
        client.lane = lane_for(pool, timeout_s)
    return client


def lane_for(pool: BlockingConnectionPool, timeout_s: float) -> Lane | None:
    """The lane to the Redis that `pool` connects to: a plain TCP one (a unix socket or TLS keeps the
    pooled connections only)."""
    if pool.connection_class is not Connection:
        return None
    kwargs = pool.connection_kwargs
    address = LaneAddress(
        host=str(kwargs.get("host", "localhost")),
        port=int(kwargs.get("port", 6379)),
        db=int(kwargs.get("db", 0) or 0),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        protocol=int(kwargs.get("protocol") or 3),
    )
    return Lane(address, timeout_s=timeout_s)
