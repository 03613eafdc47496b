"""POST /v1/tasks: 202 with predictions, idempotent task ids, limits against the model, 503 codes."""

from __future__ import annotations

import uuid

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MODEL, Daemon, MockReplica, make_config, running_daemon

SLOW = Faults(token_delay_ms=50)


@pytest.mark.req("ORCH-1001", "ORCH-2203")
async def test_admission_answers_202_with_position_prediction_and_stream_links(daemon: Daemon) -> None:
    response = await daemon.submit()
    assert response.status_code == 202
    body = response.json()
    task_id = body["task_id"]
    uuid.UUID(task_id)
    assert body["queue_position"] == 0
    assert body["predicted_start_ms"] == 0
    assert body["backoff_ms"] == 0
    assert body["streams"] == {
        "sse": f"/v1/tasks/{task_id}/stream",
        "sse_verbose": f"/v1/tasks/{task_id}/stream?verbose=true",
    }


@pytest.mark.req("ORCH-2203")
async def test_admission_behind_busy_slots_predicts_a_later_start() -> None:
    async with running_daemon([MockReplica(slots=1, faults=SLOW)]) as daemon:
        first = (await daemon.submit(max_tokens=40)).json()
        await daemon.wait_state(first["task_id"], "running")
        second = (await daemon.submit(max_tokens=40)).json()
        third = (await daemon.submit(max_tokens=40)).json()
        assert second["predicted_start_ms"] > 0
        assert third["queue_position"] > second["queue_position"]
        assert third["predicted_start_ms"] > second["predicted_start_ms"]


@pytest.mark.req("ORCH-1005")
async def test_same_task_id_and_body_returns_the_same_admission(daemon: Daemon) -> None:
    task_id = str(uuid.uuid4())
    first = await daemon.submit(task_id=task_id, seed=7)
    again = await daemon.submit(task_id=task_id, seed=7)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert len(daemon.services.registry) == 1


@pytest.mark.req("ORCH-1005")
async def test_same_task_id_with_another_body_is_409_conflict(daemon: Daemon) -> None:
    task_id = str(uuid.uuid4())
    assert (await daemon.submit(task_id=task_id, prompt="one")).status_code == 202
    clash = await daemon.submit(task_id=task_id, prompt="two")
    assert clash.status_code == 409
    assert clash.json()["code"] == "CONFLICT"


@pytest.mark.req("ORCH-1004")
async def test_ctx_above_the_models_ctx_max_is_invalid_params_before_enqueue() -> None:
    async with running_daemon([MockReplica(ctx_max=2048)]) as daemon:
        response = await daemon.submit(ctx=4096)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "INVALID_PARAMS"
        assert "ctx" in body["message"] and "2048" in body["message"]
        assert len(daemon.services.registry) == 0


@pytest.mark.req("ORCH-1004")
async def test_max_tokens_above_ctx_is_invalid_params(daemon: Daemon) -> None:
    response = await daemon.submit(ctx=64, max_tokens=65)
    assert response.status_code == 400
    assert response.json()["message"].startswith("max_tokens")


@pytest.mark.req("ORCH-1003")
async def test_configured_limits_refuse_prompt_max_tokens_and_stop() -> None:
    config = make_config(limits={"max_prompt_bytes": 16, "max_tokens": 32, "max_stop_length": 4})
    async with running_daemon(config=config) as daemon:
        prompt = await daemon.submit(prompt="x" * 17)
        assert (prompt.status_code, prompt.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
        assert "prompt" in prompt.json()["message"]
        tokens = await daemon.submit(max_tokens=33)
        assert (tokens.status_code, tokens.json()["code"]) == (400, "INVALID_PARAMS")
        assert "max_tokens" in tokens.json()["message"]
        stop = await daemon.submit(stop=["12345"])
        assert stop.status_code == 400 and "stop" in stop.json()["message"]


@pytest.mark.req("ORCH-2201")
async def test_unmeetable_deadline_is_refused_with_deadline_unmet() -> None:
    async with running_daemon([MockReplica(slots=1, faults=SLOW)]) as daemon:
        busy = (await daemon.submit(max_tokens=100)).json()
        await daemon.wait_state(busy["task_id"], "running")
        response = await daemon.submit(max_tokens=1000, deadline_ms=1)
        assert response.status_code == 400
        assert response.json()["code"] == "DEADLINE_UNMET"


@pytest.mark.req("ORCH-1205", "ORCH-3007")
async def test_unknown_model_is_503_pool_unavailable(daemon: Daemon) -> None:
    response = await daemon.submit(model_ref="pkg:no-such-model")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "POOL_UNAVAILABLE" and body["retriable"] is True


@pytest.mark.req("ORCH-1205", "ORCH-3007")
async def test_replicas_that_are_not_ready_give_503_pool_unready() -> None:
    async with running_daemon([MockReplica(faults=Faults(dead=True))]) as daemon:
        response = await daemon.submit()
        assert response.status_code == 503
        assert response.json()["code"] == "POOL_UNREADY"
        assert (await daemon.client.get("/readyz")).status_code == 503


@pytest.mark.req("ORCH-2401", "ORCH-1021")
async def test_absent_seed_is_derived_from_task_id_and_reported(daemon: Daemon) -> None:
    from orchestrator_core.seed import derive_seed

    task_id = str(uuid.uuid4())
    await daemon.submit(task_id=task_id)
    status = await daemon.wait_state(task_id, "succeeded")
    assert status["seed"] == derive_seed(task_id)
    assert status["replay"]["seed"] == derive_seed(task_id)
    assert status["replay"]["replica_id"] == "r0"
    assert status["model_ref"] == MODEL
