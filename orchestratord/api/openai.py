"""The OpenAI-compatible facade: POST /v1/completions, POST /v1/chat/completions, GET /v1/models
(ORCH-1060..1065).

Each request becomes a TaskSpec admitted by the same AdmissionService as `POST /v1/tasks` (limits, quotas,
sessions, the pool queue, fairness and placement), and its answer is read from the task's transcript.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from contracts.api_types.data import ChatCompletionRequest, CompletionRequest

from ..http.json_body import declared_body
from ..http.security import Authenticator, Principal, Role
from ..services.task_spec import TaskSpec
from ..services.transcript import HEARTBEAT
from .facade_operations import add_operation
from .facade_runs import TASK_ID_HEADER, FacadeRuns
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


class OpenAIFacade:
    """Runs one facade request as a task: admit, then stream chunks or collect the whole answer."""

    def __init__(self, runs: FacadeRuns) -> None:
        self._runs = runs

    async def answer(
        self,
        kind: Kind,
        spec: TaskSpec,
        body: CompletionRequest | ChatCompletionRequest,
        request: Request,
    ) -> Response:
        record = await self._runs.admit(spec, request)
        shape = Shape(kind, record.task_id, int(record.admitted_at), body.model)
        if body.stream:
            writer = ChunkWriter(shape, include_usage=include_usage(body))
            return self._runs.stream(record, writer.write, HEARTBEAT)
        answer = await self._runs.collect(record, request.receive)
        started = answer.started
        fingerprint = None if started is None else started.identity.system_fingerprint()
        payload = response_body(shape, fingerprint, answer.text, answer.end)
        return JSONResponse(payload, headers={TASK_ID_HEADER: record.task_id})


def facade_context(models: ModelCatalog, principal: Principal, request: Request, model: str) -> FacadeContext:
    """What a foreign-API request carries besides its body; an unknown model is ModelNotFound here."""
    headers = request.headers
    return FacadeContext(
        tenant=principal.tenant,
        priority=parse_priority(headers.get(PRIORITY_HEADER)),
        session_id=parse_session_id(headers.get(SESSION_HEADER)),
        default_max_tokens=models.max_tokens_for(model),
        determinism=parse_determinism(headers.get(DETERMINISM_HEADER)),
    )


def openai_router(
    auth: Authenticator,
    facade: OpenAIFacade,
    models: ModelCatalog,
    clock: Callable[[], float],
) -> APIRouter:
    """Routes of the facade.

    Errors are OpenAI's error object (ORCH-1064, `http/foreign_errors.py`): the `openai` package maps the
    status to its exception classes (429 -> RateLimitError, with `Retry-After` honoured, 404
    model_not_found -> NotFoundError, not retried) and exposes the inner object as the error body. A
    failure after a stream started is sent as `data: {"error": {...}}` and the stream closes without
    `[DONE]`.
    """
    router = APIRouter(tags=["openai"])
    guard = auth.require(Role.CLIENT)
    started = int(clock())

    async def serve_completion(request: Request, principal: Principal) -> Response:
        body = await declared_body(request, CompletionRequest)
        spec = completion_spec(body, facade_context(models, principal, request, body.model))
        return await facade.answer("completion", spec, body, request)

    async def serve_chat_completion(request: Request, principal: Principal) -> Response:
        body = await declared_body(request, ChatCompletionRequest)
        spec = chat_spec(body, facade_context(models, principal, request, body.model))
        return await facade.answer("chat", spec, body, request)

    add_operation(router, "/v1/completions", "createCompletion", CompletionRequest, guard, serve_completion)
    add_operation(
        router,
        "/v1/chat/completions",
        "createChatCompletion",
        ChatCompletionRequest,
        guard,
        serve_chat_completion,
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
