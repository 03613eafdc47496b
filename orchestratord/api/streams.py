"""GET /v1/tasks/{id}/stream: the task's events as SSE, resumable with Last-Event-ID (ORCH-1010..1016)."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from orchestrator_core.errors import InvalidParams

from ..http.explicit_route import explicit_route
from ..http.params import FLAGS, UUIDS, Params
from ..http.security import Authenticator, Principal, Role
from ..http.sse_response import OpenStreams, SSEResponse
from ..services.tasks import TaskService

_LAST_EVENT_ID = re.compile(r"0|[1-9][0-9]{0,9}")
LAST_EVENT_ID = "Last-Event-ID"


def parse_last_event_id(value: str | None) -> int | None:
    if value is None:
        return None
    if not _LAST_EVENT_ID.fullmatch(value.strip()):
        raise InvalidParams("Last-Event-ID: must be a non-negative integer token index")
    return int(value)


def stream_target(request: Request) -> tuple[str, bool]:
    """The task id (path) and the `verbose` flag (query), both refused in one answer when bad."""
    params = Params()
    task_id = params.valid(UUIDS, request.path_params["id"], "path", "id")
    verbose = params.valid(FLAGS, request.query_params.get("verbose", False), "query", "verbose")
    params.check()
    return str(task_id), bool(verbose)


def streams_router(
    auth: Authenticator, tasks: TaskService, heartbeat_s: float, streams: OpenStreams
) -> APIRouter:
    router = APIRouter(tags=["tasks"])
    guard = auth.require(Role.CLIENT)

    # Served without FastAPI's dependency solving: `serve_stream` reads what `stream_task` declares.
    async def serve_stream(request: Request, principal: Principal) -> Response:
        task_id, verbose = stream_target(request)
        resume_after = parse_last_event_id(request.headers.get(LAST_EVENT_ID))
        record = await tasks.readable(task_id, principal.visible_tenant)
        frames = tasks.follow(record, resume_after, verbose=verbose, heartbeat_s=heartbeat_s)
        return SSEResponse(frames, streams)

    async def stream_task(
        id: uuid.UUID,
        verbose: bool = Query(default=False),
        last_event_id: str | None = Header(default=None, alias=LAST_EVENT_ID),
        principal: Principal = Depends(guard),
    ) -> Response:
        raise NotImplementedError  # the operation as the OpenAPI document lists it; never called

    router.add_api_route(
        "/v1/tasks/{id}/stream",
        stream_task,
        methods=["GET"],
        operation_id="streamTask",
        route_class_override=explicit_route(guard, serve_stream, parses=("id", "verbose", LAST_EVENT_ID)),
    )
    return router
