"""The SSE response of the streaming routes: each frame is sent as it is produced; a client that disconnects,
even while the stream waits, and a server that ends its streams close the frame source at once; one
helper task per response, and nobody else's cancellation is swallowed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import pytest
from starlette.types import Message

from orchestratord.http.sse_response import OpenStreams, SSEResponse

SCOPE = {"type": "http", "method": "GET", "path": "/stream", "headers": []}


@dataclass
class Client:
    """The server side of one connection: what the response sent, and a disconnect to trigger."""

    sent: list[Message] = field(default_factory=list)
    frame_sent: asyncio.Event = field(default_factory=asyncio.Event)
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    async def receive(self) -> Message:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message.get("body"):
            self.frame_sent.set()

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


@dataclass
class Source:
    """A frame source that yields its frames, then waits for `release` (as a task stream waits for tokens)."""

    frames: list[bytes]
    release: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    async def follow(self) -> AsyncGenerator[bytes, None]:
        try:
            for frame in self.frames:
                yield frame
            await self.release.wait()
            yield b"event: end\n\n"
        finally:
            self.closed = True


async def start(source: Source, client: Client, streams: OpenStreams) -> asyncio.Task[None]:
    response = SSEResponse(source.follow(), streams, {"X-Orch-Task-Id": "t-1"})
    task = asyncio.create_task(response(SCOPE, client.receive, client.send))
    await asyncio.wait_for(client.frame_sent.wait(), 2)
    return task


@pytest.mark.req("ORCH-1010", "ORCH-1014", "ORCH-4007", "ORCH-1083")
async def test_each_frame_is_sent_as_it_comes_with_the_stream_headers_and_the_response_then_ends() -> None:
    source, client = Source([b"event: started\n\n", b": ping\n\n"]), Client()
    task = await start(source, client, OpenStreams())
    await asyncio.sleep(0)
    # Both frames are out while the source still waits for its next one.
    assert client.bodies() == [b"event: started\n\n", b": ping\n\n"]
    assert client.sent[0]["status"] == 200
    assert dict(client.sent[0]["headers"]) == {
        b"content-type": b"text/event-stream; charset=utf-8",
        b"cache-control": b"no-cache",
        b"x-accel-buffering": b"no",
        b"connection": b"keep-alive",
        b"x-orch-task-id": b"t-1",
    }
    source.release.set()
    await asyncio.wait_for(task, 2)
    assert client.bodies()[-2:] == [b"event: end\n\n", b""]
    assert client.sent[-1]["more_body"] is False
    assert source.closed


@pytest.mark.req("ORCH-1015", "ORCH-1065", "ORCH-1083")
async def test_a_client_that_leaves_an_idle_stream_closes_its_source_at_once() -> None:
    source, client = Source([b"event: started\n\n"]), Client()
    task = await start(source, client, OpenStreams())
    client.gone.set()
    await asyncio.wait_for(task, 2)
    assert source.closed
    assert client.bodies() == [b"event: started\n\n"]  # nothing more, not even the end of the body
    assert task.cancelling() == 0 and not task.cancelled()


@pytest.mark.req("ORCH-4004")
async def test_ending_the_servers_streams_closes_open_ones_and_those_opened_after() -> None:
    streams = OpenStreams()
    open_source, opened_after = Source([b"event: started\n\n"]), Source([b"event: started\n\n"])
    open_task = await start(open_source, Client(), streams)
    streams.close()
    await asyncio.wait_for(open_task, 2)
    late_task = await start(opened_after, Client(), streams)
    await asyncio.wait_for(late_task, 2)
    assert open_source.closed and opened_after.closed


@pytest.mark.req("ORCH-9204", "ORCH-1083")
async def test_a_streaming_response_runs_one_helper_task() -> None:
    before = len(asyncio.all_tasks())
    source = Source([b"event: started\n\n"])
    task = await start(source, Client(), OpenStreams())
    assert len(asyncio.all_tasks()) - before == 2  # the response's own task and its disconnect watcher
    source.release.set()
    await asyncio.wait_for(task, 2)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


@pytest.mark.req("ORCH-4004")
async def test_a_cancellation_from_elsewhere_is_not_swallowed_and_still_closes_the_source() -> None:
    source = Source([b"event: started\n\n"])
    task = await start(source, Client(), OpenStreams())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.closed
