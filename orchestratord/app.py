"""The orchestratord ASGI application: middleware, error handlers, one router per feature, and a lifespan
that owns every background task (dispatcher, replica polling, reapers) in one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from contracts.config_schema.orchestratord import OrchestratordConfig
from http_edge.errors import install_error_handlers
from http_edge.limits import RequestLimits
from http_edge.middleware import EdgeMiddleware

from .api.anthropic import anthropic_router
from .api.capabilities import capabilities_router
from .api.control import PoolDirectory, nodes_router, pools_router
from .api.embeddings import embeddings_router
from .api.facade_runs import FacadeRuns
from .api.health import GaugeSnapshot, health_router
from .api.openai import OpenAIFacade, openai_router
from .api.openai_models import ModelCatalog
from .api.responses import responses_router
from .api.sessions import sessions_router
from .api.streams import streams_router
from .api.tasks import tasks_router
from .http.edge import DaemonEdge
from .http.foreign_errors import error_shapes
from .http.rejections import RefusalCounter
from .http.sse_response import OpenStreams
from .wiring import Services, SharedBackend, build_services

logger = logging.getLogger(__name__)

REPLICA_POLL_S = 2.0
REAPER_INTERVAL_S = 1.0
# How long an exiting instance waits for its last shared writes while Redis does not answer.
SHUTDOWN_WRITES_S = 5.0


async def _every(interval_s: float, stop: asyncio.Event, action: Callable[[], object]) -> None:
    """Calls `action` (sync, or async returning a coroutine) every `interval_s` until `stop` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval_s):
                await stop.wait()
        if stop.is_set():
            return
        try:
            result = action()
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # a failed round is logged; the job keeps running (the next round may succeed)
            logger.exception("periodic job failed")


def _reap(services: Services) -> None:
    services.registry.expire()
    services.sessions.expire()


@contextlib.asynccontextmanager
async def run_shared(services: Services, shared: SharedBackend) -> AsyncIterator[None]:
    """The shared mode's loops (ORCH-4105, ORCH-4109, ORCH-4112, ORCH-4113): this instance's alive key,
    slot lease renewal, the cancel channel, the reaper of dead instances' tasks and the shared node
    registry; on exit the writes asked for are
    completed and the client closed."""
    dispatcher = services.dispatcher
    await shared.liveness.beat()  # alive before it takes any task (ORCH-4112); raises while Redis is away
    loops = [
        asyncio.create_task(shared.liveness.keep_beating()),
        asyncio.create_task(shared.leases.keep_alive(lambda lease: dispatcher.lease_lost(lease.lease_id))),
        asyncio.create_task(shared.tasks.listen(services.tasks.cancel_record)),
        asyncio.create_task(shared.reaper.run()),
        asyncio.create_task(shared.nodes.keep_syncing(services.nodes.lease.check_interval_s)),
    ]
    try:
        yield
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await shared.tasks.aclose()
        await shared.leases.behind.flush(SHUTDOWN_WRITES_S)
        await shared.quotas.behind.flush(SHUTDOWN_WRITES_S)
        await shared.sessions.behind.flush(SHUTDOWN_WRITES_S)
        await shared.redis.aclose()
        await shared.following.aclose()


@contextlib.asynccontextmanager
async def run_background(services: Services) -> AsyncIterator[None]:
    """Starts the dispatcher and the periodic jobs; on exit runs the graceful shutdown and joins them."""
    async with contextlib.AsyncExitStack() as stack:
        if services.shared is not None:
            await stack.enter_async_context(run_shared(services, services.shared))
        await stack.enter_async_context(_run_local(services))
        yield


@contextlib.asynccontextmanager
async def _run_local(services: Services) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        await services.replicas.refresh()
        group.create_task(services.dispatcher.run(group), name="dispatcher")
        group.create_task(_every(REPLICA_POLL_S, stop, services.replicas.refresh), name="replica-poll")
        group.create_task(_every(REAPER_INTERVAL_S, stop, lambda: _reap(services)), name="reaper")
        lease_check_s = services.nodes.lease.check_interval_s
        group.create_task(_every(lease_check_s, stop, services.nodes.check_leases), name="node-leases")
        try:
            yield
        finally:
            await services.shutdown.shutdown()
            stop.set()
    await services.pool_client.aclose()
    await services.nodes.aclose()


def create_app(
    config: OrchestratordConfig, *, services: Services | None = None, streams: OpenStreams | None = None
) -> FastAPI:
    """The daemon's FastAPI app; `services` defaults to those built from `config`, `streams` (which the
    server closes when it begins to exit) to a set of its own."""
    built = services or build_services(config)
    streams = OpenStreams() if streams is None else streams
    heartbeat_s = config.streaming.heartbeat_ms / 1000

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with run_background(built):
            yield

    app = FastAPI(
        title="OrchQueue orchestratord",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    refusals = RefusalCounter(built.metrics)
    shapes = error_shapes()
    install_error_handlers(app, refusals, shapes)
    limits = config.limits
    edge = DaemonEdge(built.metrics)
    app.add_middleware(
        EdgeMiddleware,
        limits=RequestLimits(
            max_body_bytes=limits.max_body_bytes, max_header_bytes=limits.max_header_value_bytes
        ),
        guard=edge.guard,
        answered=edge.answered,
        refused=refusals,
        shapes=shapes,
    )
    app.include_router(tasks_router(built.auth, built.tasks))
    app.include_router(streams_router(built.auth, built.tasks, heartbeat_s, streams))
    shared_sessions = built.shared.sessions if built.shared is not None else None
    app.include_router(sessions_router(built.auth, built.sessions, shared_sessions))
    app.include_router(capabilities_router(built.auth, built.replicas, config.limits))
    snapshot = GaugeSnapshot(built.metrics, built.replicas, built.queues, built.registry, built.sessions)
    ping = built.shared.redis.ping if built.shared is not None else None
    me = built.shared.liveness.instance_id if built.shared is not None else None
    app.include_router(
        health_router(built.auth, built.replicas, built.gate, built.metrics, snapshot, ping, me)
    )
    runs = FacadeRuns(built.tasks, streams, heartbeat_s)
    facade = OpenAIFacade(runs)
    models = ModelCatalog(built.replicas, config.limits.max_tokens, config.openai.default_max_tokens)
    app.include_router(openai_router(built.auth, facade, models, built.clock))
    app.include_router(responses_router(built.auth, runs, models))
    app.include_router(embeddings_router(built.auth, runs, models))
    app.include_router(anthropic_router(built.auth, runs, models))
    pools = PoolDirectory(built.nodes, built.replicas, config.replicas, queues=built.queues)
    app.include_router(pools_router(built.auth, pools, built.pool_client))
    shared_nodes = built.shared.nodes if built.shared is not None else None
    app.include_router(nodes_router(built.auth, built.nodes, built.replicas, shared_nodes))
    return app
