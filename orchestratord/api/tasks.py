"""POST /v1/tasks, GET /v1/tasks/{id}, POST /v1/tasks/{id}/cancel (ORCH-1001..1005, ORCH-1020, ORCH-1030)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from contracts.api_types.data import ChatMessage as ContractChatMessage
from contracts.api_types.data import TaskRequest
from contracts.fields import given
from http_edge.correlation import correlation_id
from orchestrator_core.errors import InvalidParams
from orchestrator_core.vocabulary import Workload
from worker_adapters.types import ChatMessage, ToolCall

from ..http.explicit_route import explicit_route
from ..http.json_body import json_body
from ..http.rejections import admission_runs
from ..http.security import Authenticator, Principal, Role
from ..services.task_registry import Admission, TaskRecord
from ..services.task_spec import PlacementSpec, TaskSpec, new_task_id
from ..services.tasks import TaskService
from .json_text import format_text, json_text, tool_fields


def fingerprint(request: TaskRequest) -> bytes:
    """SHA-256 of the validated body's canonical JSON (defaults applied, keys sorted, no task_id).

    Key order, whitespace and number spelling (`1` or `1.0`) of the submitted bytes do not change it, so
    the same task sent again is recognised as the same task (ORCH-1005).
    """
    body = request.model_dump(mode="json", exclude={"task_id"})
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()


def _placement(request: TaskRequest) -> PlacementSpec:
    placement = given(request.placement)
    if placement is None:
        return PlacementSpec()
    if placement.mode == "pin" and given(placement.pin_pool_id) is None:
        raise InvalidParams("placement.pin_pool_id: required for mode pin")
    return PlacementSpec(
        mode=placement.mode,
        pin_pool_id=given(placement.pin_pool_id),
        pin_replica_id=given(placement.pin_replica_id),
        prefer_pools=tuple(given(placement.prefer_pools) or ()),
        avoid_pools=tuple(given(placement.avoid_pools) or ()),
        allow_fallback=placement.allow_fallback,
    )


def task_spec(request: TaskRequest, tenant: str) -> TaskSpec:
    """The internal TaskSpec of a validated TaskRequest; raises InvalidParams for cross-field conflicts."""
    prompt = given(request.prompt)
    messages = given(request.messages)
    derived: Workload = "completion" if prompt is not None else "chat"
    workload = given(request.workload) or derived
    if workload != derived:
        raise InvalidParams(
            f"workload: {workload} contradicts the input ({'prompt' if prompt else 'messages'})"
        )
    task_id = given(request.task_id)
    session_id = given(request.session_id)
    return TaskSpec(
        task_id=str(task_id) if task_id is not None else new_task_id(),
        client_task_id=task_id is not None,
        tenant=tenant,
        model_ref=request.model_ref,
        max_tokens=request.max_tokens,
        # Only a client-chosen id can be submitted again, so only then is the body fingerprinted.
        fingerprint=None if task_id is None else fingerprint(request),
        prompt=prompt,
        messages=None if messages is None else tuple(_message(m) for m in messages),
        session_id=None if session_id is None else str(session_id),
        workload=workload,
        engine=given(request.engine),
        ctx=given(request.ctx),
        priority=request.priority,
        deadline_ms=given(request.deadline_ms),
        seed=given(request.seed),
        determinism=request.determinism,
        sampler_profile_version=request.sampler_profile_version,
        temperature=given(request.temperature),
        top_p=given(request.top_p),
        top_k=given(request.top_k),
        stop=tuple(given(request.stop) or ()),
        expected_tokens=given(request.expected_tokens),
        kv_hint=given(request.kv_hint),
        placement=_placement(request),
        **_tool_fields(request, workload),
    )


def _message(message: ContractChatMessage) -> ChatMessage:
    calls = tuple(
        ToolCall(c.id, c.function.name, c.function.arguments) for c in given(message.tool_calls) or ()
    )
    if calls and message.role != "assistant":
        raise InvalidParams("messages: only assistant turns carry tool_calls")
    call_id = given(message.tool_call_id)
    if message.role == "tool" and call_id is None:
        raise InvalidParams("messages: a tool turn needs tool_call_id")
    return ChatMessage(message.role, message.content, calls, call_id)


def _tool_fields(request: TaskRequest, workload: Workload) -> dict[str, Any]:
    """Tools, output format, penalties and biases of a TaskRequest, in the facade's forms (ORCH-1093)."""
    tools, choice = given(request.tools), given(request.tool_choice)
    response_format = given(request.response_format)
    if workload != "chat":
        for name, value in (("tools", tools), ("tool_choice", choice), ("response_format", response_format)):
            if value is not None:
                raise InvalidParams(f"{name}: only a chat task (messages) takes it")
    return {
        **tool_fields(tools, choice, given(request.parallel_tool_calls)),
        "response_format": format_text(response_format),
        "presence_penalty": given(request.presence_penalty),
        "frequency_penalty": given(request.frequency_penalty),
        "logit_bias": json_text(given(request.logit_bias) or None),
    }


def admission_body(admission: Admission) -> dict[str, object]:
    stream = f"/v1/tasks/{admission.task_id}/stream"
    return {
        "task_id": admission.task_id,
        "queue_position": admission.queue_position,
        "predicted_start_ms": admission.predicted_start_ms,
        "backoff_ms": admission.backoff_ms,
        "streams": {"sse": stream, "sse_verbose": f"{stream}?verbose=true"},
    }


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def status_body(record: TaskRecord, queue_position: int | None) -> dict[str, object]:
    """The TaskStatus of a record (ORCH-1020, ORCH-1021)."""
    identity = record.identity
    replay = None
    if identity is not None:
        replay = {
            "seed": identity.seed,
            "sampler_profile_version": identity.sampler_profile_version,
            "engine": identity.engine,
            "engine_version": identity.engine_version,
            "model_digest": identity.model_digest,
            "pool_id": identity.pool_id,
            "replica_id": identity.replica_id,
        }
    failure = record.error
    error = None
    if failure is not None:
        error = {"code": failure.code, "message": failure.message, "retriable": failure.is_retriable}
    started, first, ended = record.started_at, record.first_token_at, record.ended_at
    return {
        "task_id": record.task_id,
        "state": record.state.value,
        "model_ref": record.spec.model_ref,
        "priority": record.spec.priority,
        "session_id": record.spec.session_id,
        "queue_position": queue_position,
        "tokens_in": record.tokens_in,
        "tokens_out": record.tokens_out,
        "stop_reason": record.stop_reason,
        "error": error,
        "seed": record.seed,
        "timings": {
            "admitted_at_ms": _ms(record.admitted_at),
            "started_at_ms": _ms(started),
            "first_token_at_ms": _ms(first),
            "ended_at_ms": _ms(ended),
            "queue_wait_ms": None if started is None else int((started - record.admitted_at) * 1000),
            "decode_time_ms": None if first is None or ended is None else int((ended - first) * 1000),
        },
        "replay": replay,
    }


def tasks_router(auth: Authenticator, tasks: TaskService) -> APIRouter:
    router = APIRouter(tags=["tasks"])
    client_guard = auth.require(Role.CLIENT)
    client = Depends(client_guard)

    # The body is read by `json_body` rather than declared as a parameter: one JSON decode per submission.
    # The route is served with its guard's decision passed in, without FastAPI's dependency solving.
    async def create_task(request: Request, principal: Principal = client) -> JSONResponse:
        spec = task_spec(await json_body(request, TaskRequest), principal.tenant)
        admission_runs(request.scope)
        admission = await tasks.submit(spec, correlation_id(request.scope))
        return JSONResponse(admission_body(admission), status_code=202)

    router.add_api_route(
        "/v1/tasks",
        create_task,
        methods=["POST"],
        operation_id="createTask",
        status_code=202,
        route_class_override=explicit_route(client_guard, create_task),
    )

    @router.get("/v1/tasks/{id}", operation_id="getTask")
    async def get_task(id: uuid.UUID, principal: Principal = client) -> JSONResponse:
        record = await tasks.get(str(id), principal.visible_tenant)
        return JSONResponse(status_body(record, await tasks.queue_position(record)))

    @router.post("/v1/tasks/{id}/cancel", operation_id="cancelTask", status_code=204)
    async def cancel_task(id: uuid.UUID, principal: Principal = client) -> Response:
        await tasks.cancel(str(id), principal.visible_tenant)
        return Response(status_code=204)

    return router
