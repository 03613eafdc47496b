"""pool_managerd's own HTTP API (ORCH-6014): health, pools, drain, reload, reset, /metrics.

Every route needs the node token as `Authorization: Bearer <token>` (compared in constant time). Errors are
the contract's envelope; `X-Correlation-Id` is echoed or generated on every response. orchestratord's
control-plane pool endpoints forward here.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator_core.errors import InvalidParams, NotFound, OrchError, Unauthorized
from pool_managerd.metrics import metrics_registry, render
from pool_managerd.registration import RegistrationState
from pool_managerd.status import PoolStatus
from pool_managerd.supervisor import Supervisor

CORRELATION_HEADER = "X-Correlation-Id"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class DrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    deadline_ms: int | None = Field(default=None, ge=0)


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    new_model_ref: str = Field(min_length=1)


def create_app(
    supervisor: Supervisor,
    node_token: str,
    registration: Callable[[], RegistrationState | None] = lambda: None,
) -> FastAPI:
    """The API of one node; `registration` reports the standing with orchestratord for /health."""
    app = FastAPI(title="pool_managerd", docs_url=None, redoc_url=None, openapi_url=None)
    _install_errors(app)
    app.middleware("http")(_correlation_id)
    registry = metrics_registry(supervisor.status, lambda: supervisor.inventory)
    authorized = Depends(_token_check(node_token))

    @app.get("/v1/health", dependencies=[authorized])
    async def node_health() -> dict[str, Any]:
        pools = supervisor.status()
        state = registration()
        return {
            "node_id": supervisor.node.host_id,
            "live": True,
            "ready": any(p.ready for p in pools),
            "cpu_only": supervisor.inventory.cpu_only,
            "devices": supervisor.inventory.describe(),
            "registered": state.registered if state else None,
            "registration_error": state.last_error if state else None,
        }

    @app.get("/v1/pools", dependencies=[authorized])
    async def list_pools() -> dict[str, Any]:
        return {"pools": [pool_body(p) for p in supervisor.status()]}

    @app.get("/v1/pools/{pool_id}/health", dependencies=[authorized])
    async def pool_health(pool_id: str) -> dict[str, Any]:
        return pool_body(supervisor.pool(pool_id).status())

    @app.post("/v1/pools/{pool_id}/drain", status_code=202, dependencies=[authorized])
    async def drain(pool_id: str, body: DrainRequest | None = None) -> dict[str, Any]:
        pool = supervisor.pool(pool_id)
        pool.drain(body.deadline_ms if body else None)
        return pool_body(pool.status())

    @app.post("/v1/pools/{pool_id}/reload", dependencies=[authorized])
    async def reload(pool_id: str, body: ReloadRequest) -> dict[str, Any]:
        return pool_body(await supervisor.pool(pool_id).reload(body.new_model_ref))

    @app.post("/v1/pools/{pool_id}/reset", dependencies=[authorized])
    async def reset(pool_id: str) -> dict[str, Any]:
        return pool_body(await supervisor.pool(pool_id).reset())

    @app.get("/metrics", dependencies=[authorized])
    async def metrics() -> Response:
        return Response(render(registry), media_type=PROMETHEUS_TEXT)

    return app


def pool_body(status: PoolStatus) -> dict[str, Any]:
    return {
        "pool_id": status.pool_id,
        "engine": status.engine,
        "model_ref": status.model_ref,
        "model_digest": status.model_digest,
        "engine_version": status.engine_version,
        "replica_set": status.replica_set,
        "live": status.live,
        "ready": status.ready,
        "draining": status.draining,
        "breaker_open": status.breaker_open,
        "last_error": status.last_error,
        "slots_total": status.slots_total,
        "replicas": [
            {
                "replica_id": r.replica_id,
                "endpoint": r.endpoint,
                "state": r.state,
                "ready": r.ready,
                "device": r.device,
                "slots": r.slots,
                "ctx_max": r.ctx_max,
                "engine_version": r.engine_version,
                "restarts": r.restarts,
                "crashes": r.crashes,
                "last_error": r.last_error,
            }
            for r in status.replicas
        ],
    }


def _token_check(node_token: str) -> Callable[[Request], Awaitable[None]]:
    expected = f"Bearer {node_token}".encode()

    async def check(request: Request) -> None:
        given = request.headers.get("Authorization")
        if given is None:
            raise Unauthorized("missing Authorization: Bearer <node token>")
        if not hmac.compare_digest(given.encode(), expected):
            raise Unauthorized("invalid node token")

    return check


async def _correlation_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    correlation_id = _valid_correlation_id(request.headers.get(CORRELATION_HEADER))
    request.scope.setdefault("state", {})["correlation_id"] = correlation_id
    response = await call_next(request)
    response.headers[CORRELATION_HEADER] = correlation_id
    return response


def _valid_correlation_id(given: str | None) -> str:
    if given and len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return str(uuid.uuid4())


def envelope(error: OrchError, correlation_id: str) -> JSONResponse:
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "retriable": error.retriable,
        "correlation_id": correlation_id,
    }
    for key in ("engine", "pool_id", "retry_after_ms", "policy_label"):
        value = getattr(error, key)
        if value is not None:
            body[key] = value
    return JSONResponse(body, status_code=error.http_status, headers={CORRELATION_HEADER: correlation_id})


def _correlation_of(request: Request) -> str:
    state = request.scope.get("state") or {}
    return str(state.get("correlation_id") or _valid_correlation_id(request.headers.get(CORRELATION_HEADER)))


def _install_errors(app: FastAPI) -> None:
    async def orch_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OrchError)
        return envelope(exc, _correlation_of(request))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return envelope(InvalidParams(f"{field}: {first['msg']}"), _correlation_of(request))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error: OrchError = (
            NotFound(f"no route {request.method} {request.url.path}")
            if exc.status_code in (404, 405)
            else InvalidParams(str(exc.detail))
        )
        return envelope(error, _correlation_of(request))

    app.add_exception_handler(OrchError, orch_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
