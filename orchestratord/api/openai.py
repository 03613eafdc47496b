"""The OpenAI-compatible facade: POST /v1/completions, POST /v1/chat/completions, GET /v1/models
(ORCH-1060..1065).

Each request becomes a TaskSpec admitted by the same AdmissionService as `POST /v1/tasks` (limits, quotas,
sessions, the pool queue, fairness and placement), and its answer is read from the task's transcript.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive

from contracts.api_types.data import ChatCompletionRequest, CompletionRequest
from http_edge.correlation import correlation_id

from ..http.explicit_route import explicit_route
from ..http.json_body import declared_body
from ..http.rejections import admission_runs
from ..http.security import Authenticator, Principal, Role
from ..http.sse_response import OpenStreams, SSEResponse, client_left
from ..services.task_events import Failed
from ..services.task_registry import TaskRecord
from ..services.task_spec import TaskSpec
from ..services.tasks import TaskService
from ..services.transcript import HEARTBEAT
from .openai_models import ModelCatalog
from .openai_relay import ChunkWriter, Kind, Shape, response_body
from .openai_requests import (
    DETERMINISM_HEADER,
    PRIORITY_HEADER,
    SESSION_HEADER,
    FacadeContext,
    chat_spec,
    completion_spec,
    include_usage,
    parse_determinism,
    parse_priority,
    parse_session_id,
)

TASK_ID_HEADER = "X-Orch-Task-Id"
DISCONNECT_REASON = "OpenAI client disconnected"


@dataclass(frozen=True, slots=True)
class FacadeSettings:
    """Configured behaviour of the facade."""

    heartbeat_s: float = 10.0


class OpenAIFacade:
    """Runs one facade request as a task: admit, then stream chunks or collect the whole answer."""

    def __init__(self, tasks: TaskService, settings: FacadeSettings, streams: OpenStreams) -> None:
        self._tasks = tasks
        self.settings = settings
        self._streams = streams

    async def answer(
        self,
        kind: Kind,
        spec: TaskSpec,
        body: CompletionRequest | ChatCompletionRequest,
        request: Request,
    ) -> Response:
        """Admission refusals raise before any byte is sent, so they keep their status and headers."""
        cid = correlation_id(request.scope)
        admission_runs(request.scope)
        admission = await self._tasks.submit(spec, cid)
        record = await self._tasks.get(admission.task_id, spec.tenant)
        shape = Shape(kind, record.task_id, int(record.admitted_at), body.model)
        headers = {TASK_ID_HEADER: record.task_id}
        if body.stream:
            writer = ChunkWriter(shape, include_usage=include_usage(body))
            return SSEResponse(self._stream(record, writer), self._streams, headers)
        return await self._collect(record, shape, request.receive, headers)

    async def _stream(self, record: TaskRecord, writer: ChunkWriter) -> AsyncGenerator[bytes, None]:
        """Chunks until `[DONE]` (or the error object), heartbeats between them while the task has nothing
        to send; a client that leaves cancels the task at once."""
        try:
            async for batch in self._tasks.follow_text(record, heartbeat_s=self.settings.heartbeat_s):
                chunk = HEARTBEAT if batch is None else writer.write(batch)
                if chunk:
                    yield chunk
        finally:
            # No resume exists in this protocol, so no grace period either (ORCH-1065).
            if not record.state.terminal:
                await self._tasks.cancel_record(record, reason=DISCONNECT_REASON)

    async def _collect(
        self, record: TaskRecord, shape: Shape, receive: Receive, headers: dict[str, str]
    ) -> Response:
        """The whole answer as one object; a client that leaves first cancels the task at once."""
        result = asyncio.ensure_future(_ended(record))
        gone = asyncio.ensure_future(client_left(receive))
        try:
            await asyncio.wait((result, gone), return_when=asyncio.FIRST_COMPLETED)
            if not result.done():
                # Canceling ends the transcript, so `result` completes right after.
                await self._tasks.cancel_record(record, reason=DISCONNECT_REASON)
            await result
        finally:
            gone.cancel()
            if not result.done():
                result.cancel()
                await self._tasks.cancel_record(record, reason=DISCONNECT_REASON)
        outcome, started = record.transcript.outcome, record.transcript.started_event
        if isinstance(outcome, Failed):
            raise outcome.error
        assert outcome is not None  # `_ended` returns once the transcript is closed
        fingerprint = None if started is None else started.identity.system_fingerprint()
        body = response_body(shape, fingerprint, record.transcript.text(), outcome)
        return JSONResponse(body, headers=headers)


async def _ended(record: TaskRecord) -> None:
    """Returns once the task's transcript holds its terminal event (a reader of it meanwhile)."""
    async for _batch in record.transcript.follow_text():
        pass


# The facade's own request headers as the OpenAPI document lists them (read and validated by `context`).
PriorityHeader = Annotated[str | None, Header(alias=PRIORITY_HEADER)]
SessionHeader = Annotated[str | None, Header(alias=SESSION_HEADER)]
DeterminismHeader = Annotated[str | None, Header(alias=DETERMINISM_HEADER)]
FACADE_PARAMS = ("body", PRIORITY_HEADER, SESSION_HEADER, DETERMINISM_HEADER)


def openai_router(
    auth: Authenticator,
    facade: OpenAIFacade,
    models: ModelCatalog,
    clock: Callable[[], float],
) -> APIRouter:
    """Routes of the facade.

    Errors are OpenAI's error object (ORCH-1064, `http/openai_errors.py`): the `openai` package maps the
    status to its exception classes (429 -> RateLimitError, with `Retry-After` honoured, 404
    model_not_found -> NotFoundError, not retried) and exposes the inner object as the error body. A
    failure after a stream started is sent as `data: {"error": {...}}` and the stream closes without
    `[DONE]`.
    """
    router = APIRouter(tags=["openai"])
    guard = auth.require(Role.CLIENT)
    started = int(clock())

    def context(principal: Principal, request: Request, model: str) -> FacadeContext:
        headers = request.headers
        return FacadeContext(
            tenant=principal.tenant,
            priority=parse_priority(headers.get(PRIORITY_HEADER)),
            session_id=parse_session_id(headers.get(SESSION_HEADER)),
            default_max_tokens=models.max_tokens_for(model),
            determinism=parse_determinism(headers.get(DETERMINISM_HEADER)),
        )

    # Both are served without FastAPI's dependency solving: `serve_x` reads what `create_x` declares (the
    # body first, then the headers, in FastAPI's order).
    async def serve_completion(request: Request, principal: Principal) -> Response:
        body = await declared_body(request, CompletionRequest)
        spec = completion_spec(body, context(principal, request, body.model))
        return await facade.answer("completion", spec, body, request)

    async def create_completion(
        body: CompletionRequest,
        principal: Principal = Depends(guard),
        priority: PriorityHeader = None,
        session_id: SessionHeader = None,
        determinism: DeterminismHeader = None,
    ) -> Response:
        raise NotImplementedError  # the operation as the OpenAPI document lists it; never called

    async def serve_chat_completion(request: Request, principal: Principal) -> Response:
        body = await declared_body(request, ChatCompletionRequest)
        spec = chat_spec(body, context(principal, request, body.model))
        return await facade.answer("chat", spec, body, request)

    async def create_chat_completion(
        body: ChatCompletionRequest,
        principal: Principal = Depends(guard),
        priority: PriorityHeader = None,
        session_id: SessionHeader = None,
        determinism: DeterminismHeader = None,
    ) -> Response:
        raise NotImplementedError  # the operation as the OpenAPI document lists it; never called

    for path, operation_id, declared, serve in (
        ("/v1/completions", "createCompletion", create_completion, serve_completion),
        ("/v1/chat/completions", "createChatCompletion", create_chat_completion, serve_chat_completion),
    ):
        route = explicit_route(guard, serve, parses=FACADE_PARAMS)
        router.add_api_route(
            path, declared, methods=["POST"], operation_id=operation_id, route_class_override=route
        )

    @router.get("/v1/models", operation_id="listModels")
    async def list_models(_: Principal = Depends(guard)) -> JSONResponse:
        """One entry per name of a registered replica's model (ORCH-1062)."""
        data = [
            {"id": name, "object": "model", "created": started, "owned_by": "orchqueue"}
            for name in models.names()
        ]
        return JSONResponse({"object": "list", "data": data})

    return router
