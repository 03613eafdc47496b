"""A scripted engine on a real 127.0.0.1 socket for the stream-path tests of the HTTP adapters.

Each (method, path) answers with a fixed `Reply`: a status, headers and body chunks, then a normal end,
a connection reset mid-body or a hang. Streams go out chunk-encoded, one write per chunk, so the client
sees the body in pieces as an engine sends it. Every request is recorded with what became of its reply,
including whether the client closed the connection before the body ended. Requests are parsed by h11,
and several requests in sequence are served on one kept-alive connection.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import h11

End = Literal["normal", "reset", "hang"]
READ_SIZE = 65536


@dataclass(frozen=True)
class Reply:
    """What a route answers. `end`: "normal" finishes the body, "reset" aborts the connection with a
    TCP RST after the chunks (a read error mid-body), "hang" sends nothing more and keeps it open."""

    status: int = 200
    chunks: tuple[bytes, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    end: End = "normal"
    stream: bool = True

    @classmethod
    def sse(cls, chunks: Iterable[bytes], end: End = "normal") -> Reply:
        """A 200 event stream, chunk-encoded, one write per chunk."""
        return cls(200, tuple(chunks), (("content-type", "text/event-stream"),), end)

    @classmethod
    def plain(cls, status: int, body: bytes, content_type: str | None = None) -> Reply:
        """A whole body with a Content-Length (no content type unless given)."""
        headers = (("content-type", content_type),) if content_type else ()
        return cls(status, (body,), headers, "normal", stream=False)


@dataclass
class Exchange:
    """One request as received, and what became of its reply."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    finished: bool = False
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def closed_before_end(self, timeout_s: float = 1.0) -> bool:
        """Whether the client closed the connection before the reply's body ended, waiting at most
        `timeout_s` for the server to see the close."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.client_closed.wait()
        except TimeoutError:
            return False
        return not self.finished


@dataclass
class Route:
    """A scripted reply and every exchange it served."""

    reply: Reply
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def call_count(self) -> int:
        return len(self.exchanges)

    @property
    def last(self) -> Exchange:
        return self.exchanges[-1]


NOT_FOUND = Reply.plain(404, b"no such route")


class ScriptedEngine:
    """An HTTP/1.1 server on 127.0.0.1 that answers registered routes; use as `async with`.

    `connections` counts the connections accepted, so a test can tell kept-alive ones from new ones.
    """

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Route] = {}
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self._closing = False
        self.connections = 0

    def route(self, method: str, path: str, reply: Reply) -> Route:
        """Answer `method path` with `reply` from now on; the returned Route records its exchanges."""
        route = Route(reply)
        self._routes[(method.upper(), path)] = route
        return route

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the scripted engine is not serving")
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> ScriptedEngine:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        # Aborting a connection ends its handler's read or write, so every handler returns by itself
        # (cancelling them would make asyncio 3.11's stream callback log the CancelledError).
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _, stuck = await asyncio.wait(list(self._tasks), timeout=1.0)
            for task in stuck:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        last: Exchange | None = None
        try:
            while (last := await self._exchange(conn, reader, writer, last)) is not None:
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _exchange(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        previous: Exchange | None,
    ) -> Exchange | None:
        """Serve one request; None once the client closed the connection between requests."""
        received = await _read_request(conn, reader)
        if received is None:
            if previous is not None and not self._closing:
                previous.client_closed.set()
            return None
        request, body = received
        method, path = request.method.decode(), request.target.decode()
        route = self._routes.get((method, path)) or Route(NOT_FOUND)
        headers = {name.decode().lower(): value.decode() for name, value in request.headers}
        exchange = Exchange(method, path, headers, body)
        route.exchanges.append(exchange)
        try:
            exchange.finished = await _send(conn, reader, writer, route.reply)
        except ConnectionError:
            pass
        if exchange.finished:
            return exchange
        # Here the connection ended mid-body: the client closed it, unless the reply or the server did.
        if route.reply.end != "reset" and not self._closing:
            exchange.client_closed.set()
        return None


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request, bytes] | None:
    """The next request and its body, or None when the connection closes first."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and request is not None:
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


async def _send(
    conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply: Reply
) -> bool:
    """Send `reply`; True when its body was finished, False when the connection ended first."""
    framing = (
        ("transfer-encoding", "chunked")
        if reply.stream
        else ("content-length", str(sum(map(len, reply.chunks))))
    )
    await _write(writer, conn.send(h11.Response(status_code=reply.status, headers=[*reply.headers, framing])))
    for chunk in reply.chunks:
        await _write(writer, conn.send(h11.Data(data=chunk)))
    if reply.end == "reset":
        _reset(writer)
        return False
    if reply.end == "hang":
        # Anything the client sends now is ignored: only a close ends the wait.
        while await reader.read(READ_SIZE):
            pass
        return False
    await _write(writer, conn.send(h11.EndOfMessage()))
    return True


async def _write(writer: asyncio.StreamWriter, data: bytes | None) -> None:
    # Drain after every write so each chunk leaves in its own segment rather than coalesced with the next.
    if data:
        writer.write(data)
        await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN, so the client's next read fails with a connection reset: a zero
    linger time makes close() drop the connection at once."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
