"""OpenAI's Responses API: POST /v1/responses (ORCH-1098, ORCH-1099).

Each request becomes the chat TaskSpec of `responses_requests`, admitted by the same AdmissionService as
`POST /v1/tasks`, read from the task's transcript (`facade_runs`) and rendered by `responses_relay`. Model
names, limits, headers and error shape are those of the other OpenAI routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from contracts.api_types.data import ResponsesRequest
from contracts.fields import given

from ..http.json_body import declared_body
from ..http.security import Authenticator, Principal, Role
from .facade_operations import add_operation
from .facade_runs import TASK_ID_HEADER, FacadeRuns
from .openai import facade_context
from .openai_models import ModelCatalog
from .responses_relay import PING, EventWriter, ResponseShape, response_body
from .responses_requests import response_spec


def _echo(body: ResponsesRequest) -> dict[str, Any]:
    """The request fields a response repeats, as the client sent them (defaults where it sent none)."""
    dumped = body.model_dump(mode="json", by_alias=True)
    parallel = given(body.parallel_tool_calls)
    return {
        "parallel_tool_calls": True if parallel is None else parallel,
        "tool_choice": dumped.get("tool_choice") or "auto",
        "tools": dumped.get("tools") or [],
        "instructions": given(body.instructions),
        "max_output_tokens": given(body.max_output_tokens),
        "temperature": given(body.temperature),
        "top_p": given(body.top_p),
        "text": dumped.get("text") or {"format": {"type": "text"}},
        "metadata": given(body.metadata) or {},
        "store": False,
    }


def responses_router(auth: Authenticator, runs: FacadeRuns, models: ModelCatalog) -> APIRouter:
    """The route of the Responses API; its errors are OpenAI's shape (`http/foreign_errors.py`)."""
    router = APIRouter(tags=["openai"])
    guard = auth.require(Role.CLIENT)

    async def serve_response(request: Request, principal: Principal) -> Response:
        body = await declared_body(request, ResponsesRequest)
        spec = response_spec(body, facade_context(models, principal, request, body.model))
        record = await runs.admit(spec, request)
        shape = ResponseShape(record.task_id, int(record.admitted_at), body.model, _echo(body))
        if body.stream:
            return runs.stream(record, EventWriter(shape).write, PING)
        answer = await runs.collect(record, request.receive)
        return JSONResponse(
            response_body(shape, answer.text, answer.end), headers={TASK_ID_HEADER: record.task_id}
        )

    add_operation(router, "/v1/responses", "createResponse", ResponsesRequest, guard, serve_response)
    return router
