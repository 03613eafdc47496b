"""Back-to-back streams reuse one engine connection, also when the consumer stops at the final event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.adapters.helpers import fast_options, request
from worker_adapters.factory import create_adapter
from worker_adapters.mock import serve_mock
from worker_adapters.mock.server import Wire
from worker_adapters.types import FinalEvent

STREAMS = 4


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def counting_proxy(upstream: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP relay in front of `upstream` (http://host:port) that counts the connections it accepts."""
    host, port = upstream.removeprefix("http://").rsplit(":", 1)
    accepted: list[int] = []
    pipes: set[asyncio.Task[None]] = set()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        engine_reader, engine_writer = await asyncio.open_connection(host, int(port))
        for pipe in (_pipe(client_reader, engine_writer), _pipe(engine_reader, client_writer)):
            task = asyncio.create_task(pipe)
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", accepted
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)


@pytest.mark.req("ORCH-7003", "ORCH-9204")
@pytest.mark.parametrize("wire", ["llamacpp", "vllm", "tgi", "triton"])
async def test_streams_closed_at_their_final_event_leave_the_connection_for_the_next(wire: Wire) -> None:
    async with serve_mock(wire) as server, counting_proxy(server.base_url) as (url, accepted):
        adapter = create_adapter(wire, url, fast_options())
        try:
            for seed in range(STREAMS):
                # As the dispatcher's runner does: stop reading at the final event and close the stream.
                async with contextlib.aclosing(adapter.stream(request(max_tokens=5, seed=seed))) as events:
                    async for event in events:
                        if isinstance(event, FinalEvent):
                            break
        finally:
            await adapter.aclose()
    assert len(accepted) == 1, f"{len(accepted)} connections for {STREAMS} streams"
