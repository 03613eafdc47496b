"""Anthropic's Messages API: POST /v1/messages (ORCH-1095..1097).

Each request becomes the chat TaskSpec of `anthropic_requests`, admitted by the same AdmissionService as
`POST /v1/tasks`, and its answer is read from the task's transcript (`facade_runs`), rendered by
`anthropic_relay`. The model names, the default limits and the priority, session and determinism headers
are those of the OpenAI routes.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from contracts.api_types.data import AnthropicMessagesRequest

from ..http.json_body import declared_body
from ..http.security import Authenticator, Principal, Role
from .anthropic_relay import PING, EventWriter, message_body
from .anthropic_requests import messages_spec
from .facade_operations import add_operation
from .facade_runs import TASK_ID_HEADER, FacadeRuns
from .openai import facade_context
from .openai_models import ModelCatalog


def anthropic_router(auth: Authenticator, runs: FacadeRuns, models: ModelCatalog) -> APIRouter:
    """The route of the Messages API; its errors are Anthropic's shape (`http/foreign_errors.py`)."""
    router = APIRouter(tags=["anthropic"])
    guard = auth.require(Role.CLIENT)

    async def serve_message(request: Request, principal: Principal) -> Response:
        body = await declared_body(request, AnthropicMessagesRequest)
        spec = messages_spec(body, facade_context(models, principal, request, body.model))
        record = await runs.admit(spec, request)
        if body.stream:
            return runs.stream(record, EventWriter(record.task_id, body.model).write, PING)
        answer = await runs.collect(record, request.receive)
        payload = message_body(record.task_id, body.model, answer.text, answer.end)
        return JSONResponse(payload, headers={TASK_ID_HEADER: record.task_id})

    add_operation(router, "/v1/messages", "createMessage", AnthropicMessagesRequest, guard, serve_message)
    return router
