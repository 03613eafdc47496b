"""A live orchestratord for tests that need real sockets: the app under uvicorn on a free 127.0.0.1 port,
in a background thread with its own event loop.

The caller builds what the daemon serves (the app, its mock engines) on that loop, through an async
context manager that also yields whatever the test needs to see of it. `live_daemon()` waits until
/readyz answers 200, and always stops the server, the caller's context and the thread, also on failure.
Everything runs in this process, so no child process can outlive the test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

import httpx
import uvicorn
from starlette.types import ASGIApp

from contracts.config_schema.orchestratord import OrchestratordConfig

S = TypeVar("S")
Build: TypeAlias = Callable[[], AbstractAsyncContextManager[tuple[ASGIApp, S]]]
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LiveDaemon(Generic[S]):
    """Where the daemon listens, and what its builder yielded alongside the app."""

    url: str
    state: S


def daemon_config(overrides: Mapping[str, Any], **defaults: Any) -> OrchestratordConfig:
    """The daemon's config: `overrides` over `defaults` over a short shutdown grace, so tests end fast."""
    return OrchestratordConfig.model_validate({"shutdown_grace_ms": 200, **defaults, **overrides})


class _ThreadServer(uvicorn.Server):
    """uvicorn without signal handlers: it runs outside the main thread."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _Startup(Generic[S]):
    """What the daemon's thread hands to the test's thread: the running server and state, or the error."""

    ready: threading.Event
    running: tuple[_ThreadServer, S] | None = None
    error: BaseException | None = None


async def _serve(sock: socket.socket, build: Build[S], startup: _Startup[S]) -> None:
    async with build() as (app, state):
        server = _ThreadServer(
            uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
        )
        startup.running = (server, state)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(int(START_TIMEOUT_S * 100)):  # uvicorn offers a flag to poll, not an event to await
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        startup.ready.set()
        await task


def _run(sock: socket.socket, build: Build[S], startup: _Startup[S]) -> None:
    try:
        asyncio.run(_serve(sock, build, startup))
    except BaseException as exc:  # handed to the test's thread, which raises it
        startup.error = exc
    finally:
        startup.ready.set()


@contextlib.contextmanager
def live_daemon(build: Build[S]) -> Iterator[LiveDaemon[S]]:
    """Serves the app `build` makes until the block ends; /readyz is 200 before the block starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    startup: _Startup[S] = _Startup(threading.Event())
    thread = threading.Thread(target=_run, args=(sock, build, startup), daemon=True)
    thread.start()
    try:
        if not startup.ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"orchestratord did not start within {START_TIMEOUT_S:.0f} s")
        if startup.running is None or not startup.running[0].started:
            raise RuntimeError("orchestratord failed to start") from startup.error
        _wait_ready(url)
        yield LiveDaemon(url, startup.running[1])
    finally:
        if startup.running is not None:
            startup.running[0].should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()
    if thread.is_alive():
        raise RuntimeError(f"orchestratord did not stop within {STOP_TIMEOUT_S:.0f} s")
    if startup.error is not None:
        raise RuntimeError("orchestratord failed while serving") from startup.error


def _wait_ready(url: str) -> None:
    with httpx.Client(timeout=1, trust_env=False) as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{url}/readyz").status_code == 200:
                    return
            threading.Event().wait(0.05)
    raise RuntimeError(f"orchestratord at {url} never became ready")
