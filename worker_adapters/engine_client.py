"""The engine stream client: HTTP/1.1 on asyncio transports, responses parsed by httptools (ORCH-7019).

Token streams are the daemon's hot path: at concurrency 1 the engine call is most of the time to first token
the orchestrator adds. A general client pays there for request and URL models, a cookie jar, auth and redirect
hooks, a pool that scans its connections on every request, and a pure-Python parser; this client writes one
prepared request and hands body bytes to the reader as the C parser delivers them. Probes and scrapes, which
are not on that path, stay on httpx.

Connections are kept alive. A response released after its last needed event (`release`) is read to its end in
the background by the connection itself, within a time and size bound, and the connection then serves the
next request; a response closed early (`close`) aborts its connection, so the engine sees the client leave and
frees the slot (ORCH-7003). Failures are raised as the typed errors of OrchQueue: no answer before the
response head is POOL_UNAVAILABLE (retryable elsewhere), a connection lost mid-body is WORKER_RESET.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from orchestrator_core.errors import OrchError, PoolUnavailable, WorkerReset

# Reading is paused while this much body is buffered and not yet taken by the reader.
PAUSE_READING_AT = 1 << 20
# A released response must end within this time and size, or its connection is closed instead of reused.
DRAIN_TIMEOUT_S = 1.0
DRAIN_MAX_BYTES = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go: scheme, host, port and the base URL's path prefix."""

    host: str
    port: int
    tls: bool
    prefix: str

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        tls = parts.scheme == "https"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http(s) URL")
        return cls(parts.hostname, parts.port or (443 if tls else 80), tls, parts.path.rstrip("/"))

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class EngineResponse:
    """A response as it arrives: `status` and `headers` (lower-case names) first, then the body in pieces."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.status = 0
        self.headers: dict[str, str] = {}
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._head = asyncio.get_running_loop().create_future()
        self._waiter: asyncio.Future[None] | None = None
        self._failure: OrchError | None = None
        self.complete = False
        self.released = False
        self._drained = 0

    async def head(self) -> None:
        """Wait for the status line and headers."""
        await self._head

    async def chunk(self) -> bytes:
        """The body bytes received since the last call (waiting for some), or b"" once the body has ended."""
        while not self._body:
            if self._failure is not None:
                raise self._failure
            if self.complete:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        if self._buffered >= PAUSE_READING_AT:
            self._connection.resume_reading()
        self._buffered = 0
        return data

    async def read_all(self, limit: int) -> bytes:
        """The rest of the body, at most `limit` bytes of it (an error body, say)."""
        parts: list[bytes] = []
        size = 0
        while size < limit and (data := await self.chunk()):
            parts.append(data)
            size += len(data)
        return b"".join(parts)[:limit]

    def close(self) -> None:
        """Stop now: the connection is aborted, so the engine sees the client leave."""
        self._connection.abort()

    def release(self) -> None:
        """The reader needs nothing more: the body's end is read in the background, the connection reused."""
        if self.released:
            return
        self.released = True
        self._body.clear()
        if self._buffered >= PAUSE_READING_AT:  # reading was paused for this reader, who is gone
            self._connection.resume_reading()
        self._buffered = 0
        if self.complete:
            self._connection.finished()
        else:
            self._connection.drain_later()

    # Called by the connection as the parser delivers the response, not by readers.

    def got_head(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        if not self._head.done():
            self._head.set_result(None)

    def got_body(self, data: bytes) -> bool:
        """False when a released response has read more than its drain bound."""
        if self.released:
            self._drained += len(data)
            return self._drained <= DRAIN_MAX_BYTES
        self._body.append(data)
        self._buffered += len(data)
        if self._buffered >= PAUSE_READING_AT:
            self._connection.pause_reading()
        self._wake()
        return True

    def ended(self) -> None:
        self.complete = True
        self._wake()
        if self.released:
            self._connection.finished()

    def failed(self, failure: OrchError) -> None:
        if self._failure is None and not self.complete:
            self._failure = failure
        if not self._head.done():
            self._head.set_exception(failure)
            self._head.exception()  # retrieved here: a released or closed response may never await it
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One kept-alive connection to the engine; serves one request at a time."""

    def __init__(self, pool: EngineStreamClient) -> None:
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._response: EngineResponse | None = None
        self._header_pairs: list[tuple[bytes, bytes]] = []
        self._until_close = False  # a body without length or chunking ends when the connection does
        self._keep_alive = False
        self._drain_timer: asyncio.TimerHandle | None = None
        self.open = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self.open = True

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes nobody asked for: the connection cannot be trusted any more
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"sent a malformed response: {exc}")
            self.abort()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._pool.forget(self)
        self._cancel_drain_timer()
        response = self._response
        if response is None or response.complete:
            return
        if self._until_close and response.status:
            response.ended()
        else:
            self._fail("closed the connection" + (f": {exc}" if exc else ""))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_pairs.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None and self._response is not None
        headers: dict[str, str] = {}
        for raw_name, raw_value in self._header_pairs:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        status = self._parser.get_status_code()
        self._until_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and status not in _NO_BODY_STATUSES
        )
        self._response.got_head(status, headers)

    def on_body(self, body: bytes) -> None:
        assert self._response is not None
        if not self._response.got_body(body):
            self.abort()

    def on_message_complete(self) -> None:
        assert self._parser is not None and self._response is not None
        # Asked here: the parser answers for the message it is on, not once it has moved past it.
        self._keep_alive = self._parser.should_keep_alive()
        self._response.ended()

    # used by the pool and the response

    def send(self, request: bytes) -> EngineResponse:
        assert self._transport is not None
        self._response = EngineResponse(self)
        self._parser = httptools.HttpResponseParser(self)
        self._header_pairs = []
        self._until_close = self._keep_alive = False
        self._transport.write(request)
        return self._response

    def finished(self) -> None:
        """The response ended and its reader is done: back to the pool, if the engine keeps the connection."""
        self._cancel_drain_timer()
        self._response, self._parser = None, None
        if self.open and self._keep_alive:
            self._pool.idle(self)
        else:
            self.abort()

    def drain_later(self) -> None:
        self._drain_timer = asyncio.get_running_loop().call_later(DRAIN_TIMEOUT_S, self.abort)

    def pause_reading(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and self.open:
            self._transport.resume_reading()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _cancel_drain_timer(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _fail(self, what: str) -> None:
        response = self._response
        if response is None:
            return
        engine = self._pool.engine
        if response.status:
            response.failed(WorkerReset(f"{engine} connection dropped mid-stream: {what}", engine=engine))
        else:
            response.failed(PoolUnavailable(f"{engine} dropped the connection: {what}", engine=engine))


class EngineStreamClient:
    """POSTs JSON to one engine and returns its streaming responses; keeps up to `max_idle` connections."""

    def __init__(
        self,
        base_url: str,
        engine: str,
        *,
        connect_timeout_s: float,
        max_idle: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self._origin = Origin.parse(base_url)
        self._connect_timeout_s = connect_timeout_s
        self._max_idle = max_idle
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._tls = ssl.create_default_context() if self._origin.tls else None
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._fixed_headers = (
            f"Host: {self._origin.authority}\r\nUser-Agent: orchqueue\r\nAccept: text/event-stream\r\n"
            f"Accept-Encoding: identity\r\nContent-Type: application/json\r\n{extra}"
        ).encode("latin-1")

    async def post(self, path: str, body: bytes) -> EngineResponse:
        """Send the request and return once the response head arrived; raises POOL_UNAVAILABLE when the
        engine cannot be reached or drops the connection before answering."""
        request = self._request(path, body)
        while self._idle:
            connection = self._idle.pop()
            if not connection.open:
                continue
            try:
                return await _exchange(connection, request)
            except PoolUnavailable:
                # A kept-alive connection the engine closed meanwhile: the request was never served.
                continue
        return await _exchange(await self._connect(), request)

    def idle(self, connection: _Connection) -> None:
        if len(self._idle) < self._max_idle:
            self._idle.append(connection)
        else:
            connection.abort()

    def forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)

    async def aclose(self) -> None:
        """Close every connection, idle or in use."""
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks

    def _request(self, path: str, body: bytes) -> bytes:
        line = f"POST {self._origin.prefix}{path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n"
        return b"".join((line.encode("latin-1"), self._fixed_headers, b"\r\n", body))

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        origin = self._origin
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self),
                    origin.host,
                    origin.port,
                    ssl=self._tls,
                    server_hostname=origin.host if self._tls else None,
                )
        except (OSError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise PoolUnavailable(f"{self.engine} unreachable: {reason}", engine=self.engine) from exc
        self._open.add(connection)
        return connection


async def _exchange(connection: _Connection, request: bytes) -> EngineResponse:
    """Send `request` on `connection` and wait for the response head; the connection is closed if that
    fails or is cancelled."""
    response = connection.send(request)
    try:
        await response.head()
    except BaseException:
        response.close()
        raise
    return response
