"""A response that streams already-encoded SSE frames (the task stream and the OpenAI facade's, ORCH-1083).

Their frame sources yield complete frames, heartbeat comments included (`Transcript.follow` times out its
own idle wait), so a response only sends each frame as it comes and notices a client that leaves. These
routes used sse-starlette's EventSourceResponse before, which runs an anyio task group of four tasks (the
stream, pings, the disconnect and the server's exit signal) with their cancel scopes for every response:
measured at about 0.3 ms of CPU per response (a two-frame stream), on the path every first token takes,
against about 0.01 ms here. Here the request's own task sends the frames and one watcher task waits for
the client's disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),  # ORCH-1014
    (b"x-accel-buffering", b"no"),  # ORCH-1014: a proxy must pass each frame on at once
    (b"connection", b"keep-alive"),
)


async def client_left(receive: Receive) -> None:
    """Returns once the client has disconnected (a request body still to come is read and dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class OpenStreams:
    """The SSE responses still streaming, so that a server that begins to exit can end them.

    uvicorn waits for every open response before it runs the app's lifespan shutdown, and a stream ends only
    with its task: `close()` ends each stream, and any opened after, as a client that leaves would.
    """

    __slots__ = ("_emptied", "_open", "closed")

    def __init__(self) -> None:
        self._open: set[_Streaming] = set()
        self._emptied: asyncio.Event | None = None
        self.closed = False

    async def wait_empty(self, timeout_s: float) -> None:
        """Returns once no stream is open, or after `timeout_s`."""
        if not self._open or timeout_s <= 0:
            return
        self._emptied = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._emptied.wait()

    def close(self) -> None:
        self.closed = True
        for streaming in list(self._open):
            streaming.stop()

    def add(self, streaming: _Streaming) -> None:
        self._open.add(streaming)
        if self.closed:
            asyncio.get_running_loop().call_soon(streaming.stop)

    def discard(self, streaming: _Streaming) -> None:
        self._open.discard(streaming)
        if not self._open and self._emptied is not None:
            self._emptied.set()


class _Streaming:
    """The part of a response that streams, stopped when the client disconnects or the server ends its
    streams: stopping cancels the request's task, and the cancellation ends at this block, the way
    `asyncio.timeout` ends its own."""

    __slots__ = ("_cancelling", "_done", "_receive", "_streams", "_task", "_watcher", "stopped")

    def __init__(self, receive: Receive, streams: OpenStreams) -> None:
        self._receive = receive
        self._streams = streams
        self.stopped = self._done = False

    async def __aenter__(self) -> _Streaming:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - ASGI servers call the app from a task
            raise RuntimeError("an SSE response streams from a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._watcher = asyncio.create_task(self._watch())
        self._streams.add(self)
        return self

    async def _watch(self) -> None:
        await client_left(self._receive)
        self.stop()

    def stop(self) -> None:
        # Runs in another task or a callback only, so the request's task is suspended inside the block,
        # where the cancellation lands, or has left it (`_done`).
        if not (self.stopped or self._done):
            self.stopped = True
            self._task.cancel()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        self._done = True
        self._streams.discard(self)
        self._watcher.cancel()
        # The stop's own cancellation ends here; one requested by anybody else goes on.
        return self.stopped and kind is asyncio.CancelledError and self._task.uncancel() <= self._cancelling


class SSEResponse(Response):
    """Sends each frame of `frames` as soon as it is produced, then ends the response.

    A client that disconnects stops the stream at once, also while it waits for its next frame: `frames` is
    closed (its `finally` runs) and nothing more is sent. `OpenStreams.close()` stops it the same way.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncGenerator[bytes, None],
        streams: OpenStreams,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # Like Starlette's StreamingResponse, nothing of Response.__init__ (a rendered body) applies.
        self.status_code = 200
        self.background = None
        self.raw_headers = [*_HEADERS]
        if headers:
            self.raw_headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]
        self._frames = frames
        self._streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with _Streaming(receive, self._streams) as streaming:
                async for frame in self._frames:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            if not streaming.stopped:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self._frames.aclose()
