"""The OpenAI facade goes through the same admission queue as POST /v1/tasks: queue depth, the full-queue
429, priority and session headers, strict request bodies, and contract-shaped answers."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from contracts.api_types.data import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionChunk,
    CompletionResponse,
    ModelList,
)
from contracts.config_schema.common import sha256_hex
from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import (
    MODEL,
    Daemon,
    MockReplica,
    eventually,
    make_config,
    running_daemon,
)

SLOW = Faults(token_delay_ms=30)


def queue_depth(text: str, priority: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "orchd_queue_depth" and sample.labels.get("priority") == priority:
                return sample.value
    return 0.0


async def occupy_the_only_slot(daemon: Daemon) -> str:
    busy = (await daemon.submit(max_tokens=400)).json()["task_id"]
    await daemon.wait_state(busy, "running")
    return busy


def sse_data(body: bytes) -> list[bytes]:
    return [line.removeprefix(b"data: ") for line in body.split(b"\n") if line.startswith(b"data: ")]


@pytest.mark.req("ORCH-1060", "ORCH-1063", "ORCH-2001")
async def test_a_facade_request_waits_in_the_pool_queue_and_counts_in_its_depth() -> None:
    async with running_daemon([MockReplica(slots=1, faults=SLOW)]) as daemon:
        busy = await occupy_the_only_slot(daemon)
        body = {"model": MODEL, "prompt": "queued", "max_tokens": 3}
        waiting = asyncio.create_task(
            daemon.client.post("/v1/completions", json=body, headers={"X-Orch-Priority": "batch"})
        )
        await eventually(lambda: len(daemon.services.queues.get("pool-a")) == 1)
        scraped = (await daemon.client.get("/metrics")).text
        assert queue_depth(scraped, "batch") == 1
        queued = [r for r in daemon.services.registry.active() if r.task_id != busy]
        assert [r.spec.priority for r in queued] == ["batch"]
        assert queued[0].state.value == "queued"
        assert (await daemon.client.post(f"/v1/tasks/{busy}/cancel")).status_code == 204
        answer = await asyncio.wait_for(waiting, 10)
        assert answer.status_code == 200
        assert answer.headers["x-orch-task-id"] == queued[0].task_id
        assert answer.json()["usage"]["completion_tokens"] == 3


@pytest.mark.req("ORCH-1060", "ORCH-2003", "ORCH-1204")
async def test_a_full_queue_refuses_a_facade_request_with_429_and_backoff_headers() -> None:
    config = make_config(queues={"defaults": {"capacity": 1}})
    async with running_daemon([MockReplica(slots=1, faults=SLOW)], config=config) as daemon:
        busy = await occupy_the_only_slot(daemon)
        queued = (await daemon.submit(max_tokens=4)).json()["task_id"]
        refused = await daemon.client.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        )
        for task_id in (busy, queued):
            await daemon.client.post(f"/v1/tasks/{task_id}/cancel")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert int(refused.headers["x-backoff-ms"]) >= 0
    error = refused.json()["error"]
    assert error["code"] == "admission_reject"
    assert error["type"] == "rate_limit_error"
    assert refused.headers["x-correlation-id"]


@pytest.mark.req("ORCH-1063")
async def test_the_session_header_puts_the_request_in_that_session(daemon: Daemon) -> None:
    session_id = str(uuid.uuid4())
    answer = await daemon.client.post(
        "/v1/completions",
        json={"model": MODEL, "prompt": "turn one", "max_tokens": 2},
        headers={"X-Orch-Session-Id": session_id.upper()},
    )
    assert answer.status_code == 200
    status = (await daemon.client.get(f"/v1/tasks/{answer.headers['x-orch-task-id']}")).json()
    assert status["session_id"] == session_id
    assert status["priority"] == "interactive"
    session = (await daemon.client.get(f"/v1/sessions/{session_id}")).json()
    assert session["turns"] == 1


@pytest.mark.req("ORCH-1063")
@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Orch-Priority", "urgent"), ("X-Orch-Session-Id", "not-a-uuid")],
)
async def test_an_invalid_facade_header_is_400_naming_it(daemon: Daemon, header: str, value: str) -> None:
    answer = await daemon.client.post(
        "/v1/completions", json={"model": MODEL, "prompt": "x"}, headers={header: value}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["type"]) == ("invalid_params", "invalid_request_error")
    assert error["message"].startswith(header)


@pytest.mark.req("ORCH-1065", "ORCH-1002")
@pytest.mark.parametrize(
    "extra",
    [{"n": 2}, {"presence_penalty": 2.5}, {"logprobs": 1}, {"prompt": ["a", "b"]}, {"max_tokens": "8"}],
    ids=["n", "presence_penalty", "logprobs", "prompt-array", "string-max-tokens"],
)
async def test_unsupported_completion_fields_are_400(daemon: Daemon, extra: dict[str, Any]) -> None:
    body = {"model": MODEL, "prompt": "x", **extra}
    answer = await daemon.client.post("/v1/completions", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_params"
    assert next(iter(extra)) in error["message"]


@pytest.mark.req("ORCH-1060", "ORCH-1003", "ORCH-1067")
async def test_facade_requests_obey_the_admission_limits() -> None:
    config = make_config(limits={"max_tokens": 10})
    async with running_daemon(config=config) as daemon:
        answer = await daemon.client.post(
            "/v1/completions", json={"model": MODEL, "prompt": "x", "max_tokens": 11}
        )
        unknown_model = await daemon.client.post(
            "/v1/completions", json={"model": "pkg:nothing", "prompt": "x", "max_tokens": 2}
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("max_tokens")
    assert answer.json()["error"]["param"] == "max_tokens"
    assert unknown_model.status_code == 404
    assert unknown_model.json()["error"]["code"] == "model_not_found"
    assert "retry-after" not in unknown_model.headers


@pytest.mark.req("ORCH-1060", "ORCH-1065")
async def test_max_tokens_defaults_to_the_configured_value() -> None:
    config = make_config(openai={"default_max_tokens": 5})
    async with running_daemon(config=config) as daemon:
        answer = await daemon.client.post("/v1/completions", json={"model": MODEL, "prompt": "x"})
        chat = await daemon.client.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": None},
        )
    assert answer.json()["usage"]["completion_tokens"] == 5
    assert chat.json()["usage"]["completion_tokens"] == 5


@pytest.mark.req("ORCH-1060", "ORCH-1061", "ORCH-1062")
async def test_answers_fit_the_contract_models(daemon: Daemon) -> None:
    completion = await daemon.client.post(
        "/v1/completions", json={"model": MODEL, "prompt": "x", "max_tokens": 3}
    )
    chat = await daemon.client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 3},
    )
    models = await daemon.client.get("/v1/models")
    CompletionResponse.model_validate(completion.json())
    ChatCompletionResponse.model_validate(chat.json())
    assert ModelList.model_validate(models.json()).data[0].id == MODEL


@pytest.mark.req("ORCH-1060", "ORCH-1061", "ORCH-1065")
@pytest.mark.parametrize(
    ("path", "body", "chunk_model"),
    [
        ("/v1/completions", {"prompt": "x"}, CompletionChunk),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}, ChatCompletionChunk),
    ],
)
async def test_stream_chunks_fit_the_contract_and_end_with_done(
    daemon: Daemon, path: str, body: dict[str, Any], chunk_model: type[Any]
) -> None:
    request = {
        "model": MODEL,
        "max_tokens": 4,
        "stream": True,
        **body,
        "stream_options": {"include_usage": True},
    }
    answer = await daemon.client.post(path, json=request)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-cache"
    frames = sse_data(answer.content)
    assert frames[-1] == b"[DONE]"
    chunks = [chunk_model.model_validate(orjson.loads(frame)) for frame in frames[:-1]]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 4
    task_id = answer.headers["x-orch-task-id"]
    prefix = "cmpl" if path == "/v1/completions" else "chatcmpl"
    assert {chunk.id for chunk in chunks} == {f"{prefix}-{task_id}"}


def documented_statuses() -> dict[tuple[str, str], set[int]]:
    contract = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "data.yaml"
    paths = yaml.safe_load(contract.read_text(encoding="utf-8"))["paths"]
    return {
        (method.upper(), path): {int(code) for code in operation["responses"]}
        for path in ("/v1/completions", "/v1/chat/completions", "/v1/models")
        for method, operation in paths[path].items()
        if method in ("get", "post")
    }


@pytest.mark.req("ORCH-1080", "ORCH-1081")
async def test_every_facade_status_answered_is_documented() -> None:
    contract = documented_statuses()
    key = "facade-key"
    config = make_config(
        api_keys=[{"sha256": sha256_hex(key), "tenant": "t"}],
        limits={"max_body_bytes": 4096},
        queues={"defaults": {"capacity": 1}},
    )
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    completion = {"model": MODEL, "prompt": "x", "max_tokens": 2}
    no_auth = {"authorization": ""}
    async with running_daemon(
        [MockReplica(slots=1, faults=SLOW)], config=config, headers={"authorization": f"Bearer {key}"}
    ) as daemon:
        cases: list[tuple[str, str, dict[str, Any]]] = []
        for path, body in (("/v1/completions", completion), ("/v1/chat/completions", chat)):
            cases += [
                (path, "POST", {"json": body}),
                (path, "POST", {"json": {**body, "model": "pkg:none"}}),
                (path, "POST", {"json": {**body, "stream": "yes"}}),
                (path, "POST", {"content": b"{" * 5000}),
                (path, "POST", {"content": b"{nope"}),
                (path, "POST", {"json": body, "headers": no_auth}),
            ]
        cases += [("/v1/models", "GET", {}), ("/v1/models", "GET", {"headers": no_auth})]
        seen: dict[tuple[str, str], set[int]] = {}
        for path, method, kwargs in cases:
            status = (await daemon.client.request(method, path, **kwargs)).status_code
            assert status in contract[(method, path)], (method, path, kwargs, status)
            seen.setdefault((method, path), set()).add(status)
        busy = await occupy_the_only_slot(daemon)
        await daemon.submit(max_tokens=2)
        full = await daemon.client.post("/v1/completions", json=completion)
        await daemon.client.post(f"/v1/tasks/{busy}/cancel")
    assert full.status_code in contract[("POST", "/v1/completions")]
    assert full.status_code == 429
    assert set(seen) == set(contract)
    assert all(200 in codes for codes in seen.values())
