"""Determinism is opt-in (ORCH-3506): a task or OpenAI request that does not ask for `strict` is
best_effort and runs on best_effort-only pools; `X-Orch-Determinism: strict` asks for strict through the
OpenAI facade; static replicas are best_effort unless the operator declares them strict; capabilities
report the mode of each engine group."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import openai
import pytest
from openai.types import Completion

from mock_engine.faults import Faults, MockConfig
from mock_engine.server import serve_mock
from tests.orchestratord.orchd_harness import (
    MODEL,
    Daemon,
    MockReplica,
    eventually,
    make_config,
    running_daemon,
)
from tests.orchestratord.test_nodes_registry import CLIENT_KEY
from tests.orchestratord.test_strict_replicas import best_effort_only, two_pools

DIGEST_A, DIGEST_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
STRICT = {"X-Orch-Determinism": "strict"}


def sdk(daemon: Daemon) -> openai.AsyncOpenAI:
    """The unmodified `openai` package, talking to the in-process daemon.

    The package annotates its client as its own httpx fork's; httpx's AsyncClient offers the same API.
    """
    http_client: Any = daemon.client
    return openai.AsyncOpenAI(
        base_url="http://orchd/v1", api_key=CLIENT_KEY, http_client=http_client, max_retries=0
    )


def complete(client: openai.AsyncOpenAI, **headers: str) -> Awaitable[Completion]:
    """A short completion, with the given request headers."""
    return client.completions.create(
        model=MODEL, prompt="Once upon a time", max_tokens=3, extra_headers=headers or None
    )


@pytest.mark.req("ORCH-3506", "ORCH-3504")
async def test_a_task_without_determinism_runs_on_a_best_effort_only_pool() -> None:
    async with best_effort_only() as daemon:
        answer = await daemon.client.post(
            "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3}
        )
        assert answer.status_code == 202, answer.text
        status = await daemon.wait_state(answer.json()["task_id"], "succeeded", "failed")
        spec = daemon.services.registry.get(answer.json()["task_id"]).spec
    assert status["state"] == "succeeded", status
    assert status["replay"]["replica_id"] == "pool-be-r0"
    assert spec.determinism == "best_effort"


@pytest.mark.req("ORCH-3506", "ORCH-1060", "ORCH-1061")
async def test_an_openai_request_without_the_header_runs_on_a_best_effort_only_pool() -> None:
    async with best_effort_only() as daemon:
        client = sdk(daemon)
        completion = await complete(client)
        chat = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=3
        )
    assert completion.choices[0].finish_reason == "length"
    assert chat.choices[0].message.content


@pytest.mark.req("ORCH-3506", "ORCH-3505", "ORCH-1063")
async def test_the_strict_header_gets_503_naming_the_missing_strict_replica() -> None:
    async with best_effort_only() as daemon:
        client = sdk(daemon)
        with pytest.raises(openai.APIStatusError) as refused:
            await complete(client, **STRICT)
        with pytest.raises(openai.APIStatusError) as refused_chat:
            await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=3,
                extra_headers=STRICT,
            )
        relaxed = await complete(client, **{"X-Orch-Determinism": "best_effort"})
    for error in (refused.value, refused_chat.value):
        assert error.status_code == 503
        assert isinstance(error.body, dict)
        assert error.code == "pool_unavailable"
        assert f"no strict replica serves model {MODEL}" in error.message
    assert relaxed.choices[0].text


@pytest.mark.req("ORCH-3506", "ORCH-3505", "ORCH-3009")
async def test_the_strict_header_places_the_request_on_the_strict_pool() -> None:
    async with two_pools() as daemon:
        raw = await sdk(daemon).completions.with_raw_response.create(
            model=MODEL, prompt="Once upon a time", max_tokens=3, extra_headers=STRICT
        )
        status = (await daemon.client.get(f"/v1/tasks/{raw.headers['x-orch-task-id']}")).json()
    assert raw.parse().choices[0].text
    assert status["replay"]["replica_id"] == "pool-st-r0"


@pytest.mark.req("ORCH-3506", "ORCH-1063")
async def test_an_invalid_determinism_header_is_400_naming_it() -> None:
    async with best_effort_only() as daemon:
        answer = await daemon.client.post(
            "/v1/completions", json={"model": MODEL, "prompt": "x"}, headers={"X-Orch-Determinism": "always"}
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_params"
    assert answer.json()["error"]["message"].startswith("X-Orch-Determinism")


@pytest.mark.req("ORCH-3506", "ORCH-1050")
async def test_capabilities_report_the_determinism_mode_of_each_engine_group() -> None:
    async with two_pools(best_effort_slots=4) as daemon:
        engines = (await daemon.client.get("/v1/capabilities")).json()["engines"]
    assert sorted((e["engine"], e["determinism"], e["slots_total"]) for e in engines) == [
        ("llamacpp", "best_effort", 4),
        ("llamacpp", "strict", 1),
    ]


@pytest.mark.req("ORCH-3506", "ORCH-3505")
async def test_a_static_replica_is_best_effort_unless_the_operator_declares_it_strict() -> None:
    async with (
        serve_mock("llamacpp", MockConfig(slots=1, ctx_max=4096)) as plain,
        serve_mock("llamacpp", MockConfig(slots=1, ctx_max=4096)) as declared,
    ):
        static = {"engine": "llamacpp", "model_ref": MODEL, "slots": 1, "ctx_max": 4096}
        config = make_config(
            replicas=[
                {"id": "plain-r0", "pool_id": "plain", "base_url": plain.base_url, **static},
                {
                    "id": "declared-r0",
                    "pool_id": "declared",
                    "base_url": declared.base_url,
                    "determinism": "strict",
                    **static,
                },
            ]
        )
        async with running_daemon((), config=config) as daemon:
            replicas = daemon.services.replicas
            await eventually(lambda: all(r.ready for r in replicas.all()))
            modes = {r.replica_id: replicas.view(r).determinism for r in replicas.all()}
            strict = await daemon.submit(determinism="strict", max_tokens=3)
            assert strict.status_code == 202, strict.text
            status = await daemon.wait_state(strict.json()["task_id"], "succeeded", "failed")
    assert modes == {"plain-r0": "best_effort", "declared-r0": "strict"}
    assert status["replay"]["replica_id"] == "declared-r0"


@pytest.mark.req("ORCH-3506", "ORCH-4002", "ORCH-3004")
@pytest.mark.parametrize(("mode", "outcome"), [("strict", "failed"), ("best_effort", "succeeded")])
async def test_only_a_strict_task_is_requeued_within_its_first_replica_set(mode: str, outcome: str) -> None:
    # r0 (more free slots, so placed first) fails before any token; r1 serves the model from another file.
    replicas = [
        MockReplica("r0", slots=2, faults=Faults(fail_at=0), determinism="strict", model_digest=DIGEST_A),
        MockReplica("r1", slots=1, determinism="strict", model_digest=DIGEST_B),
    ]
    async with running_daemon(replicas) as daemon:
        task_id = (await daemon.submit(max_tokens=3, determinism=mode)).json()["task_id"]
        status = await daemon.wait_state(task_id, "succeeded", "failed")
    assert status["state"] == outcome, status
    if mode == "strict":
        assert status["error"]["code"] == "REPLICA_EXHAUSTED"
    else:
        assert status["replay"]["replica_id"] == "r1"
