"""Probes and metrics: /healthz (live), /readyz (a ready replica and not shutting down), /metrics
(ORCH-1070..1072, ORCH-5004)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse, Response

from orchestrator_core.errors import PoolUnready

from ..http.security import Authenticator, Principal, Role
from ..services.admission import AdmissionGate
from ..services.metrics import DaemonMetrics
from ..services.replicas import ReplicaRegistry

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def health_router(
    auth: Authenticator, replicas: ReplicaRegistry, gate: AdmissionGate, metrics: DaemonMetrics
) -> APIRouter:
    router = APIRouter(tags=["operations"])
    guard = Depends(auth.open_or(Role.CLIENT))

    @router.get("/healthz", operation_id="getHealthz")
    async def healthz(_: Principal | None = guard) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", operation_id="getReadyz")
    async def readyz(_: Principal | None = guard) -> JSONResponse:
        ready = [r for r in replicas.all() if r.ready and not r.draining]
        if not gate.open:
            raise PoolUnready("orchestratord is shutting down")
        if not ready:
            raise PoolUnready("no registered replica is ready")
        return JSONResponse({"status": "ready", "replicas_ready": len(ready)})

    @router.get("/metrics", operation_id="getMetrics")
    async def prometheus(_: Principal | None = guard) -> Response:
        for replica in replicas.all():
            total = replicas.total_slots(replica.replica_id)
            metrics.set_slots(replica.replica_id, total, total - replicas.free_slots(replica.replica_id))
        return Response(metrics.render(), media_type=PROMETHEUS_TEXT)

    return router
