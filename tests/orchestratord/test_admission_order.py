"""Admission checks run in the contract's order and stop at the first failure: a request that fails two
checks is answered with the earlier one. (Authentication before an oversized body is proven in
test_auth_before_body_limits.py.)"""

from __future__ import annotations

import uuid

import pytest

from contracts.config_schema.common import sha256_hex
from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MODEL, Daemon, MockReplica, make_config, running_daemon

KEY = "order-key"
BUSY = [MockReplica(slots=1, ctx_max=4096, faults=Faults(token_delay_ms=100))]


def body(**fields: object) -> dict[str, object]:
    return {"model_ref": MODEL, "prompt": "hello", "max_tokens": 4, **fields}


@pytest.mark.req("ORCH-1008")
async def test_role_before_schema_and_body_size_before_syntax() -> None:
    config = make_config(
        api_keys=[{"sha256": sha256_hex(KEY), "tenant": "t"}], limits={"max_body_bytes": 1024}
    )
    async with running_daemon(config=config) as daemon:
        anonymous = await daemon.client.post("/v1/tasks", content=b"{")
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "UNAUTHORIZED")
        keyed = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
        too_big = await daemon.client.post("/v1/tasks", content=b"{" * 4096, headers=keyed)
        assert (too_big.status_code, too_big.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
        garbage = await daemon.client.post("/v1/tasks", content=b"{", headers=keyed)
        assert (garbage.status_code, garbage.json()["code"]) == (400, "INVALID_PARAMS")


async def post(daemon: Daemon, **fields: object) -> tuple[int, str]:
    response = await daemon.client.post("/v1/tasks", json=body(**fields))
    return response.status_code, response.json().get("code", "")


@pytest.mark.req("ORCH-1008")
async def test_schema_before_limits_before_idempotency_before_pool_resolution() -> None:
    config = make_config(limits={"max_tokens": 100})
    async with running_daemon(BUSY, config=config) as daemon:
        # Schema (unknown field) wins over an over-limit max_tokens and an unknown model.
        assert await post(daemon, max_tokens=1000, model_ref="pkg:none", colour="red") == (
            400,
            "INVALID_PARAMS",
        )
        # A limit (max_tokens above the configured bound) wins over a task_id clash and an unknown model.
        task_id = str(uuid.uuid4())
        assert await post(daemon, task_id=task_id) == (202, "")
        status, _ = await post(daemon, task_id=task_id, max_tokens=1000, model_ref="pkg:none")
        assert status == 400
        # Idempotency (409 on a different body) wins over pool resolution (unknown model: 503).
        assert await post(daemon, task_id=task_id, model_ref="pkg:none") == (409, "CONFLICT")


@pytest.mark.req("ORCH-1008")
async def test_pool_resolution_before_model_limits_before_quotas_before_deadline_and_queue() -> None:
    config = make_config(
        default_tenant={"quota": {"max_concurrent": 2}},
        queues={"defaults": {"capacity": 1, "policy": "reject"}},
    )
    async with running_daemon(BUSY, config=config) as daemon:
        # No pool serves the model: 503 before the max_tokens-over-ctx 400.
        assert await post(daemon, model_ref="pkg:none", max_tokens=5000) == (503, "POOL_UNAVAILABLE")
        running = (await daemon.client.post("/v1/tasks", json=body(max_tokens=50))).json()["task_id"]
        await daemon.wait_state(running, "running")
        assert await post(daemon, max_tokens=50) == (202, "")
        # The queue is now full and the tenant at its concurrency quota.
        # ctx and max_tokens against the model (400) come before the quota (429).
        assert await post(daemon, max_tokens=5000) == (400, "INVALID_PARAMS")
        # The tenant quota (429 QUOTA_EXCEEDED) comes before deadline feasibility and the queue policy.
        assert await post(daemon, deadline_ms=1) == (429, "QUOTA_EXCEEDED")


@pytest.mark.req("ORCH-1008")
async def test_deadline_feasibility_before_queue_policy() -> None:
    config = make_config(queues={"defaults": {"capacity": 1, "policy": "reject"}})
    async with running_daemon(BUSY, config=config) as daemon:
        running = (await daemon.client.post("/v1/tasks", json=body(max_tokens=50))).json()["task_id"]
        await daemon.wait_state(running, "running")
        assert await post(daemon, max_tokens=50) == (202, "")
        status, code = await post(daemon, deadline_ms=1)
        assert status == 400, code
        assert await post(daemon) == (429, "ADMISSION_REJECT")
