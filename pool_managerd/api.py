"""pool_managerd's own HTTP API, as `contracts/openapi/pool.yaml` describes it (ORCH-6014).

Routes: GET /v1/health, GET /v1/pools, GET /v1/pools/{id}/health, POST /v1/pools/{id}/drain,
POST /v1/pools/{id}/reload, GET /metrics. Each needs the node token as `Authorization: Bearer <token>`
(compared in constant time) unless configured open (/v1/health and /metrics by default). The edge is the
one orchestratord uses too (`http_edge`): the correlation id, the header and body limits, and every error
as the contract's envelope. orchestratord's control-plane pool endpoints forward here.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection

from fastapi import Depends, FastAPI, Request, Response

from contracts.api_types.pool import (
    Device,
    DrainAccepted,
    DrainRequest,
    NodeHealth,
    PoolHealth,
    PoolStatusList,
    ReloadRequest,
    ReloadResult,
    ReplicaHealth,
)
from contracts.api_types.pool import PoolStatus as PoolStatusBody
from http_edge.errors import install_error_handlers
from http_edge.limits import RequestLimits
from http_edge.middleware import EdgeMiddleware
from orchestrator_core.errors import Unauthorized
from pool_managerd.devices import wire_devices
from pool_managerd.metrics import metrics_registry, render
from pool_managerd.registration import RegistrationState
from pool_managerd.status import PoolStatus
from pool_managerd.supervisor import Supervisor

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
MAX_BODY_BYTES = 65_536
OPEN_BY_DEFAULT = frozenset({"health", "metrics"})


def create_app(
    supervisor: Supervisor,
    node_token: str,
    registration: Callable[[], RegistrationState | None] = lambda: None,
    open_endpoints: Collection[str] = OPEN_BY_DEFAULT,
) -> FastAPI:
    """The API of one node; `registration` reports the standing with orchestratord for /v1/health."""
    app = FastAPI(title="pool_managerd", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware, limits=RequestLimits(max_body_bytes=MAX_BODY_BYTES))
    registry = metrics_registry(supervisor, registration)
    token = Depends(_token_check(node_token))
    health_auth = [] if "health" in open_endpoints else [token]
    metrics_auth = [] if "metrics" in open_endpoints else [token]

    @app.get("/v1/health", dependencies=health_auth)
    async def node_health() -> NodeHealth:
        state = registration()
        return NodeHealth(
            node_id=supervisor.node.host_id,
            live=True,
            ready=any(p.ready for p in supervisor.status()),
            registered=state.registered if state else None,
            registration_error=state.last_error if state else None,
            cpu_only=supervisor.inventory.cpu_only,
            devices=[Device.model_validate(d) for d in wire_devices(supervisor.inventory)],
        )

    @app.get("/v1/pools", dependencies=[token])
    async def list_pools() -> PoolStatusList:
        return PoolStatusList(pools=[pool_status_body(p) for p in supervisor.status()])

    @app.get("/v1/pools/{id}/health", dependencies=[token])
    async def pool_health(id: str) -> PoolHealth:
        status = supervisor.pool(id).status()
        return PoolHealth(
            pool_id=status.pool_id,
            live=status.live,
            ready=status.ready,
            draining=status.draining,
            last_error=status.last_error,
            replicas=replica_bodies(status),
        )

    @app.post("/v1/pools/{id}/drain", status_code=202, dependencies=[token])
    async def drain(id: str, body: DrainRequest | None = None) -> DrainAccepted:
        pool = supervisor.pool(id)
        given = body.deadline_ms if body is not None else None
        requested = given if isinstance(given, int) else None
        deadline = pool.drain(requested)
        return DrainAccepted(pool_id=pool.pool_id, draining=True, deadline_ms=deadline)

    @app.post("/v1/pools/{id}/reload", dependencies=[token])
    async def reload(id: str, body: ReloadRequest) -> ReloadResult:
        status = await supervisor.pool(id).reload(body.new_model_ref)
        return ReloadResult(
            pool_id=status.pool_id,
            model_ref=status.model_ref,
            model_digest=status.model_digest or "",
            engine_version=status.engine_version or "",
            replicas_ready=sum(1 for r in status.replicas if r.ready),
        )

    @app.get("/metrics", dependencies=metrics_auth)
    async def metrics() -> Response:
        return Response(render(registry), media_type=PROMETHEUS_TEXT)

    return app


def replica_bodies(status: PoolStatus) -> list[ReplicaHealth]:
    return [
        ReplicaHealth(
            replica_id=r.replica_id,
            state=r.state,  # type: ignore[arg-type]
            ready=r.ready,
            endpoint=r.endpoint,
            engine=status.engine,  # type: ignore[arg-type]
            engine_version=r.engine_version,
            model_digest=status.model_digest,
            slots_total=r.slots,
            pid=r.pid,
            port=r.port,
            restarts=r.restarts,
            last_exit_code=r.last_exit_code,
            last_error=r.last_error,
        )
        for r in status.replicas
    ]


def pool_status_body(status: PoolStatus) -> PoolStatusBody:
    return PoolStatusBody(
        pool_id=status.pool_id,
        engine=status.engine,  # type: ignore[arg-type]
        model_ref=status.model_ref,
        model_digest=status.model_digest,
        engine_version=status.engine_version,
        replica_set=status.replica_set,
        slots_total=status.slots_total,
        live=status.live,
        ready=status.ready,
        draining=status.draining,
        breaker_open=status.breaker_open,
        last_error=status.last_error,
        replicas=replica_bodies(status),
    )


def _token_check(node_token: str) -> Callable[[Request], Awaitable[None]]:
    expected = f"Bearer {node_token}".encode()

    async def check(request: Request) -> None:
        given = request.headers.get("Authorization")
        if given is None:
            raise Unauthorized("missing node token: send Authorization: Bearer <node token>")
        if not hmac.compare_digest(given.encode(), expected):
            raise Unauthorized("wrong node token")

    return check
