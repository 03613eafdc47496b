"""GET /v1/tasks/{id}/stream: the task's events as SSE, resumable with Last-Event-ID (ORCH-1010..1016)."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from orchestrator_core.errors import InvalidParams

from ..http.security import Authenticator, Principal, Role
from ..services.tasks import TaskService

_LAST_EVENT_ID = re.compile(r"0|[1-9][0-9]{0,9}")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# The spec's framing ends every line with `\n` (ORCH-1017); sse-starlette defaults to `\r\n`, also for the
# ping events a factory builds, which do not inherit the response's `sep`.
SSE_LINE_END = "\n"


def parse_last_event_id(value: str | None) -> int | None:
    if value is None:
        return None
    if not _LAST_EVENT_ID.fullmatch(value.strip()):
        raise InvalidParams("Last-Event-ID: must be a non-negative integer token index")
    return int(value)


def heartbeat() -> ServerSentEvent:
    """The heartbeat comment `: ping` (ORCH-1014), framed like every other event."""
    return ServerSentEvent(comment="ping", sep=SSE_LINE_END)


def streams_router(auth: Authenticator, tasks: TaskService, heartbeat_s: float) -> APIRouter:
    router = APIRouter(tags=["tasks"])

    @router.get("/v1/tasks/{id}/stream", operation_id="streamTask")
    async def stream_task(
        id: uuid.UUID,
        verbose: bool = Query(default=False),
        last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
        principal: Principal = Depends(auth.require(Role.CLIENT)),
    ) -> EventSourceResponse:
        resume_after = parse_last_event_id(last_event_id)
        record = tasks.readable(str(id), principal.visible_tenant)
        return EventSourceResponse(
            tasks.follow(record, resume_after, verbose=verbose),
            headers=SSE_HEADERS,
            ping=heartbeat_s,
            ping_message_factory=heartbeat,
            sep=SSE_LINE_END,
        )

    return router
