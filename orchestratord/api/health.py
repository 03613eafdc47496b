"""Probes and metrics: /healthz (live), /readyz (a ready replica, not shutting down and, shared, Redis
answering), /metrics (ORCH-1070..1072, ORCH-5004, ORCH-8001, ORCH-4111)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse, Response

from orchestrator_core.errors import PoolUnready

from ..http.security import Authenticator, Principal, Role
from ..services.admission import AdmissionGate
from ..services.metrics import DaemonMetrics
from ..services.replicas import ReplicaRegistry
from ..services.state import QueueStore, SessionState, TaskStore
from ..services.task_spec import TaskState

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class GaugeSnapshot:
    """Sets the state gauges from the services just before a scrape."""

    def __init__(
        self,
        metrics: DaemonMetrics,
        replicas: ReplicaRegistry,
        queues: QueueStore,
        registry: TaskStore,
        sessions: SessionState,
    ) -> None:
        self._metrics = metrics
        self._replicas = replicas
        self._queues = queues
        self._registry = registry
        self._sessions = sessions

    def update(self) -> None:
        metrics, replicas = self._metrics, self._replicas
        for queue in self._queues:
            self._queues.publish_depth(queue)
        running: dict[str, int] = {pool_id: 0 for pool_id in replicas.pool_ids()}
        for record in self._registry.active():
            if record.state is TaskState.RUNNING and record.identity is not None:
                running[record.identity.pool_id] = running.get(record.identity.pool_id, 0) + 1
        for pool_id, count in running.items():
            metrics.set_running(pool_id, count)
        for replica in replicas.all():
            replica_id = replica.replica_id
            metrics.set_replica(
                replica.pool_id,
                replica_id,
                replicas.total_slots(replica_id),
                replicas.free_slots(replica_id),
                replica.ready and not replica.draining,
            )
        metrics.sessions_active.set(self._sessions.expire_and_count())


def health_router(
    auth: Authenticator,
    replicas: ReplicaRegistry,
    gate: AdmissionGate,
    metrics: DaemonMetrics,
    snapshot: GaugeSnapshot,
    shared_state: Callable[[], Awaitable[object]] | None = None,
    instance_id: str | None = None,
) -> APIRouter:
    """`shared_state` (the shared mode) raises StateUnavailable while Redis does not answer, which makes
    the instance unready (ORCH-4111); `instance_id` names the instance in the answer."""
    router = APIRouter(tags=["operations"])
    guard = Depends(auth.open_or(Role.CLIENT))

    @router.get("/healthz", operation_id="getHealthz")
    async def healthz(_: Principal | None = guard) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", operation_id="getReadyz")
    async def readyz(_: Principal | None = guard) -> JSONResponse:
        if not gate.open or gate.draining:
            raise PoolUnready("orchestratord is shutting down")
        ready = [r for r in replicas.all() if r.ready and not r.draining]
        if not ready:
            raise PoolUnready("no registered replica is ready")
        if shared_state is not None:
            await shared_state()
        body: dict[str, object] = {"status": "ready", "replicas_ready": len(ready)}
        if instance_id is not None:
            body["instance_id"] = instance_id
        return JSONResponse(body)

    @router.get("/metrics", operation_id="getMetrics")
    async def prometheus(_: Principal | None = guard) -> Response:
        snapshot.update()
        return Response(metrics.render(), media_type=PROMETHEUS_TEXT)

    return router
