"""A live server for tests that need real sockets: an ASGI app (orchestratord, or a fake of a service it
calls) under uvicorn on a free 127.0.0.1 port, in a background thread with its own event loop.

The caller builds what the server serves (the app, its mock engines) on that loop, through an async
context manager that also yields whatever the test needs to see of it. `live_daemon()` waits until the
ready path answers 200, and always stops the server, the caller's context and the thread, also on
failure. `live_daemon_async()` is the same for async tests: it starts and stops from a worker thread, so
the test's own event loop keeps serving what the daemon calls meanwhile (a mock engine, a fake node).
Everything runs in this process, so no child process can outlive the test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

import httpx
import uvicorn
from starlette.types import ASGIApp

from contracts.config_schema.orchestratord import OrchestratordConfig
from mock_engine.server import EmbeddedServer, reserve_socket

S = TypeVar("S")
Build: TypeAlias = Callable[[], AbstractAsyncContextManager[tuple[ASGIApp, S]]]
READYZ = "/readyz"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LiveDaemon(Generic[S]):
    """Where the server listens, and what its builder yielded alongside the app."""

    url: str
    state: S


def daemon_config(overrides: Mapping[str, Any], **defaults: Any) -> OrchestratordConfig:
    """The daemon's config: `overrides` over `defaults` over a short shutdown grace, so tests end fast."""
    return OrchestratordConfig.model_validate({"shutdown_grace_ms": 200, **defaults, **overrides})


@dataclass
class _Serving(Generic[S]):
    """The server's thread and what it hands to the test's thread: the running server and state, or the
    error."""

    sock: socket.socket
    url: str
    ready: threading.Event = field(default_factory=threading.Event)
    running: tuple[EmbeddedServer, S] | None = None
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(self, build: Build[S], ready_path: str | None) -> LiveDaemon[S]:
        """Starts the thread; returns once the server listens and `ready_path` (if any) answers 200."""
        self.thread = threading.Thread(target=self._run, args=(build,), daemon=True)
        self.thread.start()
        try:
            if not self.ready.wait(START_TIMEOUT_S):
                raise RuntimeError(f"server did not start within {START_TIMEOUT_S:.0f} s")
            if self.running is None or not self.running[0].started:
                raise RuntimeError("server failed to start") from self.error
            if ready_path is not None:
                _wait_ready(f"{self.url}{ready_path}")
            return LiveDaemon(self.url, self.running[1])
        except BaseException:
            self.halt()
            raise

    def halt(self) -> None:
        """Asks the server to exit and waits for its thread; raises nothing, see `check`."""
        if self.running is not None:
            self.running[0].should_exit = True
        if self.thread is not None:
            self.thread.join(STOP_TIMEOUT_S)
        self.sock.close()

    def check(self) -> None:
        """Raises if the server outlived `halt` or failed while serving."""
        if self.thread is not None and self.thread.is_alive():
            raise RuntimeError(f"server did not stop within {STOP_TIMEOUT_S:.0f} s")
        if self.error is not None:
            raise RuntimeError("server failed while serving") from self.error

    def _run(self, build: Build[S]) -> None:
        try:
            asyncio.run(self._serve(build))
        except BaseException as exc:  # handed to the test's thread, which raises it
            self.error = exc
        finally:
            self.ready.set()

    async def _serve(self, build: Build[S]) -> None:
        async with build() as (app, state):
            server = EmbeddedServer(
                uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
            )
            self.running = (server, state)
            task = asyncio.create_task(server.serve(sockets=[self.sock]))
            for _ in range(
                int(START_TIMEOUT_S * 100)
            ):  # uvicorn offers a flag to poll, not an event to await
                if server.started or task.done():
                    break
                await asyncio.sleep(0.01)
            self.ready.set()
            await task


def _bound() -> _Serving[Any]:
    sock = reserve_socket("127.0.0.1", 0)
    return _Serving(sock, f"http://127.0.0.1:{sock.getsockname()[1]}")


@contextlib.contextmanager
def live_daemon(build: Build[S], *, ready_path: str | None = READYZ) -> Iterator[LiveDaemon[S]]:
    """Serves the app `build` makes until the block ends; `ready_path` (None: none) is 200 before."""
    serving: _Serving[S] = _bound()
    daemon = serving.start(build, ready_path)
    try:
        yield daemon
    finally:
        serving.halt()
    serving.check()


@contextlib.asynccontextmanager
async def live_daemon_async(
    build: Build[S], *, ready_path: str | None = READYZ
) -> AsyncIterator[LiveDaemon[S]]:
    """`live_daemon` for async tests: the test's event loop runs on while the server starts and stops."""
    serving: _Serving[S] = _bound()
    daemon = await asyncio.to_thread(serving.start, build, ready_path)
    try:
        yield daemon
    finally:
        await asyncio.to_thread(serving.halt)
    serving.check()


def _wait_ready(url: str) -> None:
    with httpx.Client(timeout=1, trust_env=False) as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            threading.Event().wait(0.05)
    raise RuntimeError(f"{url} never answered 200")
