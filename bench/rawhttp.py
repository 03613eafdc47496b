"""A minimal HTTP/1.1 client over asyncio streams, for the load generator.

It does only what the benchmark needs (keep-alive connections, Content-Length and chunked bodies, body
chunks handed over as they arrive) so that the client costs far less CPU per token than the servers it
measures. Not a general client: no redirects, no TLS, no compression.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

MAX_HEAD_BYTES = 65_536


class HttpError(Exception):
    """The server broke the protocol or closed the connection mid-response."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status and headers (names lower-cased) of one response."""

    status: int
    headers: dict[str, str]

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


def build_request(method: str, host: str, path: str, body: object | None = None) -> bytes:
    """The bytes of one request; a body is sent as JSON."""
    payload = b"" if body is None else orjson.dumps(body)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: */*"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _ensure_open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, limit=MAX_HEAD_BYTES * 4
                )
            except OSError as exc:
                raise HttpError(f"cannot connect: {exc}") from exc
        return self._reader, self._writer

    async def connect(self) -> None:
        """Opens the connection now rather than at the first request."""
        await self._ensure_open()

    async def send(self, request: bytes) -> ResponseHead:
        """Writes `request` and reads the response head; the body must be read before the next send."""
        reader, writer = await self._ensure_open()
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            await self.close()
            raise HttpError(f"no response head: {exc}") from exc
        return _parse_head(head)

    async def body(self, head: ResponseHead) -> bytes:
        """The whole body of the response whose head was just read."""
        return b"".join([chunk async for chunk in self.chunks(head)])

    async def chunks(self, head: ResponseHead) -> AsyncIterator[bytes]:
        """The body as it arrives: one item per HTTP chunk (chunked) or per read (Content-Length)."""
        reader, _ = await self._ensure_open()
        try:
            if head.chunked:
                async for chunk in _dechunk(reader):
                    yield chunk
            else:
                remaining = int(head.headers.get("content-length", "0"))
                while remaining > 0:
                    data = await reader.read(min(remaining, 262_144))
                    if not data:
                        raise HttpError("connection closed inside the body")
                    remaining -= len(data)
                    yield data
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            await self.close()
            raise HttpError(f"broken body: {exc}") from exc
        if not head.keep_alive:
            await self.close()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass


async def _dechunk(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent by the servers measured here
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


def _parse_head(head: bytes) -> ResponseHead:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HttpError(f"bad status line {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return ResponseHead(int(parts[1]), headers)
