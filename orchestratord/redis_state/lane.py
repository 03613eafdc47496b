"""One multiplexed connection for the shared mode's short commands (ORCH-4111): every coroutine's command
goes into one write buffer that is sent once per turn of the event loop, and each reply is matched to its
command in order, since Redis answers a connection's commands in the order they came.

redis-py's asyncio client costs about 96 us of CPU per command on this machine (a pooled connection taken
and given back, retry and observability wrappers, one socket write per command); this lane costs about
46 us for a lone command and about 17 us per command when several coroutines ask at once, as the relay
does under load (bench/README.md, "the shared mode's Redis lane"). Blocking reads, pub/sub and
transactions stay on redis-py's pooled connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError, InvalidResponse, TimeoutError

NOT_ENOUGH_DATA = object()
Arg = str | bytes | int | float


@dataclass(frozen=True, slots=True)
class LaneAddress:
    """Where the lane connects and how it logs in: a TCP Redis, as a `redis://` URL names it."""

    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = None
    protocol: int = 3


def pack(args: Sequence[Arg]) -> bytes:
    """One command in the Redis protocol; a first argument such as "SCRIPT LOAD" is two words on the wire."""
    first = args[0]
    if isinstance(first, str) and " " in first:
        args = (*first.split(), *args[1:])
    return bytes(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]  # its stub says 1-tuple


class _Connection(asyncio.Protocol):
    """The socket and the replies it still owes, oldest first."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader(
            protocolError=InvalidResponse,
            replyError=BaseParser.parse_error,
            notEnoughData=NOT_ENOUGH_DATA,
        )
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._buffer: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is one without deriving from it
        self._flush()  # what was asked before the socket was handed over

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        waiting = self.waiting
        while True:
            reply = self._reader.gets()
            if reply is NOT_ENOUGH_DATA:
                return
            if not waiting:  # a reply nobody asked for: the stream is out of step, drop the connection
                self.close(InvalidResponse("Redis answered a command that was not sent"))
                return
            future, _ = waiting.popleft()
            if future.done():  # its caller gave up waiting; the reply still keeps the order
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"the connection to Redis was lost: {exc or 'closed'}"))

    def _fail(self, error: Exception) -> None:
        self.lost = self.lost or error
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def send(self, packed: bytes, loop: asyncio.AbstractEventLoop, now: float) -> asyncio.Future[Any]:
        if self.lost is not None:
            raise ConnectionError(f"the connection to Redis was lost: {self.lost}")
        future: asyncio.Future[Any] = loop.create_future()
        self.waiting.append((future, now))
        if not self._buffer:
            loop.call_soon(self._flush)
        self._buffer.append(packed)
        return future

    def _flush(self) -> None:
        if self._transport is None or not self._buffer:
            return
        if self.lost is None:
            self._transport.write(b"".join(self._buffer))
        self._buffer.clear()

    def close(self, error: Exception) -> None:
        self._fail(error)
        if self._transport is not None:
            self._transport.close()


def _retrieved(task: asyncio.Task[Any]) -> None:
    """Its callers may all have given up: the outcome of an attempt is still taken, never left unread."""
    if not task.cancelled():
        task.exception()


class Lane:
    """Commands to one Redis over one connection, opened on first use and again after it is lost."""

    def __init__(self, address: LaneAddress, *, timeout_s: float) -> None:
        self._address = address
        self._timeout_s = timeout_s
        self._connection: _Connection | None = None
        self._opening: asyncio.Task[_Connection] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def call(self, args: Sequence[Arg]) -> Any:
        """The raw reply of one command; an error reply is raised as redis-py's exception for it.

        Raises:
            redis.exceptions.ConnectionError: Redis cannot be reached or the connection was lost.
            redis.exceptions.TimeoutError: no reply within the timeout.
        """
        connection = self._connection
        if connection is None or connection.lost is not None:
            connection = await self._open()
        loop = asyncio.get_running_loop()
        return await connection.send(pack(args), loop, loop.time())

    async def _open(self) -> _Connection:
        """The connection, opened once for every caller that needs it now: they share one attempt and its
        outcome, so callers waiting for an absent Redis wait one timeout together, not one each in turn."""
        opening = self._opening
        if opening is None or opening.done():
            opening = asyncio.get_running_loop().create_task(self._connect(), name="redis-lane-open")
            opening.add_done_callback(_retrieved)
            self._opening = opening
        return await asyncio.shield(opening)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        address = self._address
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._timeout_s):
                _, connection = await loop.create_connection(_Connection, address.host, address.port)
                await self._log_in(connection, loop)
        except (OSError, ConnectionError, TimeoutError) as error:  # builtin TimeoutError is an OSError
            if connection is not None:
                connection.close(ConnectionError("not logged in"))
            where = f"{address.host}:{address.port}"
            raise ConnectionError(f"cannot reach Redis at {where}: {error or 'no answer in time'}") from error
        self._connection = connection
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = loop.create_task(self._watch(), name="redis-lane-watchdog")
        return connection

    async def _log_in(self, connection: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        address = self._address
        hello: list[Arg] = ["HELLO", address.protocol]
        if address.password is not None:
            hello += ["AUTH", address.username or "default", address.password]
        await connection.send(pack(hello), loop, loop.time())
        if address.db:
            await connection.send(pack(["SELECT", address.db]), loop, loop.time())

    async def _watch(self) -> None:
        """A reply is answered in order, so when the oldest one is overdue every later one is too: the
        connection is closed and its callers get TimeoutError, as a pooled connection's would."""
        while True:
            await asyncio.sleep(self._timeout_s / 4)
            connection = self._connection
            if connection is None or connection.lost is not None or not connection.waiting:
                continue
            _, sent_at = connection.waiting[0]
            if asyncio.get_running_loop().time() - sent_at > self._timeout_s:
                connection.close(TimeoutError(f"Redis did not answer within {self._timeout_s:.1f} s"))

    async def aclose(self) -> None:
        if self._opening is not None:
            self._opening.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._connection is not None:
            self._connection.close(ConnectionError("the lane was closed"))
            self._connection = None
