"""The OpenAI-compatible facade: POST /v1/completions, POST /v1/chat/completions, GET /v1/models
(ORCH-1060..1065).

Each request becomes a TaskSpec admitted by the same AdmissionService as `POST /v1/tasks` (limits, quotas,
sessions, the pool queue, fairness and placement), and its answer is read from the task's transcript.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse
from starlette.responses import JSONResponse, Response
from starlette.types import Receive

from contracts.api_types.data import ChatCompletionRequest, CompletionRequest

from ..http.correlation import correlation_id
from ..http.rejections import admission_runs
from ..http.security import Authenticator, Principal, Role
from ..services.queues import PoolQueues
from ..services.replicas import ReplicaRegistry
from ..services.task_registry import TaskRecord
from ..services.task_spec import TaskSpec
from ..services.tasks import TaskService
from .openai_relay import Batch, ChunkWriter, Kind, Shape, parse_batch, response_body, typed_error
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
from .streams import SSE_HEADERS, heartbeat

TASK_ID_HEADER = "X-Orch-Task-Id"
DISCONNECT_REASON = "OpenAI client disconnected"


@dataclass(frozen=True, slots=True)
class FacadeSettings:
    """Configured behaviour of the facade."""

    default_max_tokens: int = 16
    heartbeat_s: float = 10.0


class OpenAIFacade:
    """Runs one facade request as a task: admit, then stream chunks or collect the whole answer."""

    def __init__(self, tasks: TaskService, queues: PoolQueues, settings: FacadeSettings) -> None:
        self._tasks = tasks
        self._queues = queues
        self.settings = settings

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
        admission = self._tasks.submit(spec, cid)
        record = self._tasks.get(admission.task_id, spec.tenant)
        shape = Shape(kind, record.task_id, int(record.admitted_at), body.model)
        headers = {TASK_ID_HEADER: record.task_id}
        if body.stream:
            writer = ChunkWriter(shape, include_usage=include_usage(body), correlation_id=cid)
            return EventSourceResponse(
                self._stream(record, writer),
                headers=SSE_HEADERS | headers,
                ping=self.settings.heartbeat_s,
                ping_message_factory=heartbeat,
                sep="\n",
            )
        return await self._collect(record, shape, request.receive, headers)

    async def _stream(self, record: TaskRecord, writer: ChunkWriter) -> AsyncIterator[bytes]:
        """Chunks until `[DONE]` (or the error object); a client that leaves cancels the task at once."""
        try:
            async for frames in self._tasks.follow(record):
                chunk = writer.write(parse_batch(frames))
                if chunk:
                    yield chunk
        finally:
            # No resume exists in this protocol, so no grace period either (ORCH-1065).
            if not record.state.terminal:
                self._tasks.cancel_record(record, reason=DISCONNECT_REASON)

    async def _collect(
        self, record: TaskRecord, shape: Shape, receive: Receive, headers: dict[str, str]
    ) -> Response:
        """The whole answer as one object; a client that leaves first cancels the task at once."""
        result = asyncio.ensure_future(_read_all(record))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((result, gone), return_when=asyncio.FIRST_COMPLETED)
            if not result.done():
                # Canceling ends the transcript, so `result` completes right after.
                self._tasks.cancel_record(record, reason=DISCONNECT_REASON)
            outcome = await result
        finally:
            gone.cancel()
            if not result.done():
                result.cancel()
                self._tasks.cancel_record(record, reason=DISCONNECT_REASON)
        if outcome.error is not None:
            policy = self._queues.get(record.admission.pool_id).config.policy.value
            raise typed_error(outcome.error, policy)
        end = outcome.end or {}
        return JSONResponse(response_body(shape, outcome.fingerprint, outcome.text, end), headers=headers)


async def _read_all(record: TaskRecord) -> Batch:
    """The whole transcript folded into one Batch (text, fingerprint, terminal event)."""
    whole = Batch()
    texts: list[str] = []
    async for frames in record.transcript.follow():
        batch = parse_batch(frames)
        texts.append(batch.text)
        whole.fingerprint = batch.fingerprint or whole.fingerprint
        whole.end, whole.error = batch.end or whole.end, batch.error or whole.error
    whole.text = "".join(texts)
    return whole


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@dataclass(frozen=True, slots=True)
class FacadeHeaders:
    """The facade's own request headers, as sent (validated when the TaskSpec is built)."""

    priority: str | None
    session_id: str | None
    determinism: str | None


def facade_headers(
    priority: str | None = Header(default=None, alias=PRIORITY_HEADER),
    session_id: str | None = Header(default=None, alias=SESSION_HEADER),
    determinism: str | None = Header(default=None, alias=DETERMINISM_HEADER),
) -> FacadeHeaders:
    return FacadeHeaders(priority, session_id, determinism)


def openai_router(
    auth: Authenticator,
    facade: OpenAIFacade,
    replicas: ReplicaRegistry,
    clock: Callable[[], float],
) -> APIRouter:
    """Routes of the facade.

    Errors use the daemon's error envelope, as every other operation (ORCH-1064): the `openai` package maps
    the status to its exception classes (429 -> RateLimitError, with `Retry-After` honoured) and exposes
    the envelope as the error body. A failure after a stream started is sent as
    `data: {"error": <envelope>}` and the stream closes without `[DONE]`.
    """
    router = APIRouter(tags=["openai"])
    client = Depends(auth.require(Role.CLIENT))
    started = int(clock())

    def context(principal: Principal, headers: FacadeHeaders) -> FacadeContext:
        return FacadeContext(
            tenant=principal.tenant,
            priority=parse_priority(headers.priority),
            session_id=parse_session_id(headers.session_id),
            default_max_tokens=facade.settings.default_max_tokens,
            determinism=parse_determinism(headers.determinism),
        )

    @router.post("/v1/completions", operation_id="createCompletion")
    async def create_completion(
        body: CompletionRequest,
        request: Request,
        principal: Principal = client,
        headers: FacadeHeaders = Depends(facade_headers),
    ) -> Response:
        spec = completion_spec(body, context(principal, headers))
        return await facade.answer("completion", spec, body, request)

    @router.post("/v1/chat/completions", operation_id="createChatCompletion")
    async def create_chat_completion(
        body: ChatCompletionRequest,
        request: Request,
        principal: Principal = client,
        headers: FacadeHeaders = Depends(facade_headers),
    ) -> Response:
        spec = chat_spec(body, context(principal, headers))
        return await facade.answer("chat", spec, body, request)

    @router.get("/v1/models", operation_id="listModels")
    async def list_models(_: Principal = client) -> JSONResponse:
        """One entry per model_ref of the registered replicas (ORCH-1062)."""
        models = sorted({replica.spec.model_ref for replica in replicas.all()})
        data = [{"id": m, "object": "model", "created": started, "owned_by": "orchqueue"} for m in models]
        return JSONResponse({"object": "list", "data": data})

    return router
