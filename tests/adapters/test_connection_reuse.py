"""Engine connections outlive the streams that end at their final event, and never the adapter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
import pytest

from mock_engine import Faults, serve_mock
from mock_engine.server import Wire
from tests.adapters.helpers import fast_options, request
from worker_adapters.factory import create_adapter
from worker_adapters.types import FinalEvent

STREAMS = 4
CLIENT_ROUND_TRIP_S = 0.05
_FINAL = {"content": "", "stop": True, "stop_type": "limit", "tokens_predicted": 1, "tokens_evaluated": 3}


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


async def _stop_at_final(events: AsyncIterator[object]) -> FinalEvent:
    async for event in events:
        if isinstance(event, FinalEvent):
            return event
    raise AssertionError("the stream ended without a final event")


@pytest.mark.req("ORCH-7003", "ORCH-9204")
@pytest.mark.parametrize("wire", ["llamacpp", "vllm", "tgi", "triton"])
async def test_streams_closed_at_their_final_event_leave_the_connection_for_the_next(wire: Wire) -> None:
    async with serve_mock(wire) as server, counting_proxy(server.base_url) as (url, accepted):
        adapter = create_adapter(wire, url, fast_options())
        try:
            for seed in range(STREAMS):
                # As the dispatcher's runner does: stop reading at the final event and close the stream.
                async with contextlib.aclosing(adapter.stream(request(max_tokens=5, seed=seed))) as events:
                    await _stop_at_final(events)
                # The next request comes after the client's round trip, by when the body's end is read.
                await asyncio.sleep(CLIENT_ROUND_TRIP_S)
        finally:
            await adapter.aclose()
    assert len(accepted) == 1, f"{len(accepted)} connections for {STREAMS} streams"


@pytest.mark.req("ORCH-7003", "ORCH-7018")
@pytest.mark.parametrize(("kept", "wave"), [(None, 12), (4, 12)])
async def test_under_load_a_wave_of_streams_reuses_the_connections_kept_by_the_one_before(
    kept: int | None, wave: int
) -> None:
    async with (
        serve_mock("llamacpp", faults=Faults(token_delay_ms=10)) as server,
        counting_proxy(server.base_url) as (url, accepted),
    ):
        adapter = create_adapter("llamacpp", url, fast_options(max_kept_connections=kept))

        async def one(seed: int) -> None:
            async with contextlib.aclosing(adapter.stream(request(max_tokens=5, seed=seed))) as events:
                await _stop_at_final(events)

        try:
            for _ in range(2):
                await asyncio.gather(*(one(seed) for seed in range(wave)))
                await asyncio.sleep(CLIENT_ROUND_TRIP_S)
        finally:
            await adapter.aclose()
    # The first wave opens a connection per stream; the second opens only what was not kept.
    reused = wave if kept is None else kept
    assert len(accepted) == 2 * wave - reused, f"{len(accepted)} connections"


@pytest.mark.req("ORCH-7003")
async def test_a_body_that_does_not_end_after_its_final_event_is_closed_with_the_adapter() -> None:
    hung_up = asyncio.Event()

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        event = b"data: " + orjson.dumps(_FINAL) + b"\n\n"
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))  # and never the last chunk
        await writer.drain()
        while await reader.read(65536):
            pass
        hung_up.set()
        writer.close()

    server = await asyncio.start_server(engine, "127.0.0.1", 0)
    adapter = create_adapter("llamacpp", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        async with contextlib.aclosing(adapter.stream(request(max_tokens=1))) as events:
            final = await _stop_at_final(events)
        await asyncio.sleep(0.05)
        # The stream is over for its consumer, while the connection still waits for the body's end.
        assert final.tokens_out == 1
        assert not hung_up.is_set()
        await adapter.aclose()
        await asyncio.wait_for(hung_up.wait(), 1.0)
    finally:
        await adapter.aclose()
        server.close()
