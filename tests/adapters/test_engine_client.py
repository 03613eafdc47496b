"""The engine stream client on real sockets: kept-alive connections, framing, flow control, failures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from orchestrator_core.errors import DecodeTimeout, PoolUnavailable, WorkerReset
from tests.adapters.helpers import collect, fast_options, request
from worker_adapters.engine_client import PAUSE_READING_AT, EngineStreamClient
from worker_adapters.factory import create_adapter
from worker_adapters.retry import RetryPolicy

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
FINAL = b'data: {"content":"","stop":true,"stop_type":"limit","tokens_predicted":1,"tokens_evaluated":3}\n\n'
TOKEN = b'data: {"content":" hi","stop":false}\n\n'


@contextlib.asynccontextmanager
async def engine(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw engine on 127.0.0.1 running `handler` per connection; yields its URL and a connection count."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", accepted
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (by its Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


@pytest.mark.req("ORCH-7020", "ORCH-7018")
async def test_a_kept_connection_the_engine_closed_is_replaced_without_a_retry() -> None:
    async def one_answer_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(SSE_HEAD + b"transfer-encoding: chunked\r\n\r\n" + chunked(TOKEN, FINAL))
        await writer.drain()
        # Keep-alive was not refused, yet the engine hangs up when the next request comes: as when it
        # closed the idle connection just as the request was sent.
        await read_request(reader)

    async with engine(one_answer_per_connection) as (url, accepted):
        adapter = create_adapter("llamacpp", url, fast_options(retry=RetryPolicy(attempts=1)))
        try:
            first = await collect(adapter, request(max_tokens=1))
            second = await collect(adapter, request(max_tokens=1))
        finally:
            await adapter.aclose()
    assert [t.text for t in first[0]] == [t.text for t in second[0]] == [" hi"]
    assert len(accepted) == 2


@pytest.mark.req("ORCH-7020", "ORCH-7004")
async def test_an_engine_that_closes_before_answering_is_pool_unavailable() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with engine(hang_up) as (url, accepted):
        adapter = create_adapter("llamacpp", url, fast_options(retry=RetryPolicy(attempts=2, base_s=0.0)))
        try:
            with pytest.raises(PoolUnavailable, match="dropped the connection"):
                await collect(adapter, request())
        finally:
            await adapter.aclose()
    assert len(accepted) == 2, "refused before any token, so retried once on a new connection"


@pytest.mark.req("ORCH-7020", "ORCH-7004")
async def test_a_connection_lost_mid_body_is_worker_reset() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(SSE_HEAD + b"transfer-encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(TOKEN), TOKEN))
        await writer.drain()

    async with engine(cut) as (url, _):
        adapter = create_adapter("llamacpp", url, fast_options())
        try:
            with pytest.raises(WorkerReset, match="mid-stream"):
                await collect(adapter, request())
        finally:
            await adapter.aclose()


@pytest.mark.req("ORCH-7020", "ORCH-7018")
async def test_an_engine_that_never_sends_its_response_head_times_out_as_the_first_token() -> None:
    released = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # until the client gives up and closes
        released.set()

    async with engine(silent) as (url, _):
        adapter = create_adapter("llamacpp", url, fast_options(first_token_timeout_s=0.2))
        try:
            with pytest.raises(DecodeTimeout):
                await collect(adapter, request())
            await asyncio.wait_for(released.wait(), 1.0)
        finally:
            await adapter.aclose()


@pytest.mark.req("ORCH-7020", "ORCH-7013")
async def test_a_body_ended_by_closing_the_connection_is_read_to_its_end() -> None:
    # Triton's stream has no final event: it ends with the body, here delimited by the connection's end.
    events = b"".join(
        b'data: {"model_name":"ensemble","text_output":" hi","num_input_tokens":3,"num_output_tokens":%d}\n\n'
        % n
        for n in (1, 2)
    )

    async def close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(SSE_HEAD + b"connection: close\r\n\r\n" + events)
        await writer.drain()

    async with engine(close_delimited) as (url, accepted):
        adapter = create_adapter("triton", url, fast_options())
        try:
            for _ in range(2):
                tokens, final = await collect(adapter, request(max_tokens=2))
                assert ([t.text for t in tokens], final.tokens_out) == ([" hi", " hi"], 2)
        finally:
            await adapter.aclose()
    assert len(accepted) == 2, "a connection the engine closes is never reused"


@pytest.mark.req("ORCH-7020")
async def test_a_body_larger_than_the_read_ahead_arrives_whole_to_a_slow_reader() -> None:
    body = bytes(range(256)) * ((3 * PAUSE_READING_AT) // 256)

    async def bulk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        await reader.read()

    async with engine(bulk) as (url, _):
        client = EngineStreamClient(url, "llamacpp", connect_timeout_s=1.0, max_idle=1)
        try:
            response = await client.post("/completion", b"{}")
            received = bytearray()
            while data := await response.chunk():
                assert len(data) <= PAUSE_READING_AT + 256 * 1024, "read ahead far past the pause mark"
                received += data
                await asyncio.sleep(0.001)
            response.release()
        finally:
            await client.aclose()
    assert bytes(received) == body


@pytest.mark.req("ORCH-7020", "ORCH-7004")
async def test_a_malformed_response_is_pool_unavailable_and_its_connection_dropped() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with engine(garbage) as (url, accepted):
        adapter = create_adapter("llamacpp", url, fast_options(retry=RetryPolicy(attempts=1)))
        try:
            with pytest.raises(PoolUnavailable, match="malformed response"):
                await collect(adapter, request())
        finally:
            await adapter.aclose()
    assert len(accepted) == 1


@pytest.mark.req("ORCH-7020", "ORCH-7003")
async def test_a_response_released_while_reading_was_paused_still_reads_its_end_and_is_reused() -> None:
    # The reader leaves without reading while the read-ahead is full; the body's end after it is small.
    body = b"x" * (PAUSE_READING_AT + 32 * 1024)

    async def bulk_then_small(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(body))
            await writer.drain()

    async with engine(bulk_then_small) as (url, accepted):
        client = EngineStreamClient(url, "llamacpp", connect_timeout_s=1.0, max_idle=1)
        try:
            for _ in range(2):
                async with asyncio.timeout(2.0):  # a connection left paused would never answer
                    response = await client.post("/completion", b"{}")
                await asyncio.sleep(0.05)  # the read-ahead fills up and reading pauses
                response.release()
                for _ in range(100):
                    if response.complete:
                        break
                    await asyncio.sleep(0.01)
                assert response.complete, "the released body was not read to its end"
        finally:
            await client.aclose()
    assert len(accepted) == 1
