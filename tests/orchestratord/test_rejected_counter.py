"""`orchd_tasks_rejected_total{reason}` counts every refused submission of POST /v1/tasks and the OpenAI
facade by error code, and nothing that failed after admission (ORCH-8001, metrics spec)."""

from __future__ import annotations

import pytest

from contracts.config_schema.common import sha256_hex
from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import (
    MODEL,
    Daemon,
    MockReplica,
    error_code,
    make_config,
    running_daemon,
)

KEY, NODE_TOKEN = "client-secret", "node-secret"


def rejected(daemon: Daemon, reason: str, pool_id: str = "_none") -> float:
    labels = {"pool_id": pool_id, "reason": reason}
    value = daemon.services.metrics.registry.get_sample_value("orchd_tasks_rejected_total", labels)
    return value or 0.0


@pytest.mark.req("ORCH-8001", "ORCH-1002", "ORCH-1003")
async def test_refusals_before_admission_are_counted_by_code() -> None:
    config = make_config(
        api_keys=[{"sha256": sha256_hex(KEY), "tenant": "t", "role": "client"}],
        node_tokens=[sha256_hex(NODE_TOKEN)],
        limits={"max_body_bytes": 2048},
    )
    auth = {"authorization": f"Bearer {KEY}"}
    bad_priority = {"X-Orch-Priority": "urgent"}
    task = {"model_ref": MODEL, "prompt": "x", "max_tokens": 1}
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}
    async with running_daemon(config=config, headers=auth) as daemon:
        post = daemon.client.post
        answers = [
            await post("/v1/tasks", json={**task, "max_tokens": "1"}),
            await post("/v1/tasks", json={**task, "placement": {"mode": "pin"}}),
            await post("/v1/chat/completions", json={**chat, "n": 2}),
            await post("/v1/completions", json={"model": MODEL, "prompt": "x"}, headers=bad_priority),
            await post("/v1/tasks", content=b"{" + b" " * 4096 + b"}"),
            await post("/v1/tasks", json=task, headers={"authorization": "Bearer nope"}),
            await post("/v1/tasks", json=task, headers={"authorization": f"Bearer {NODE_TOKEN}"}),
        ]
        assert [a.status_code for a in answers] == [400, 400, 400, 400, 413, 401, 403]
        assert rejected(daemon, "INVALID_PARAMS") == 4
        assert rejected(daemon, "PAYLOAD_TOO_LARGE") == 1
        assert rejected(daemon, "UNAUTHORIZED") == 1
        assert rejected(daemon, "FORBIDDEN") == 1
        # Refusals by admission are counted once, with the resolved pool.
        too_many = await post("/v1/tasks", json={**task, "max_tokens": 100_000})
        assert too_many.status_code == 400
        assert rejected(daemon, "INVALID_PARAMS") == 5


@pytest.mark.req("ORCH-8001")
async def test_a_facade_task_that_fails_after_admission_is_not_a_rejection() -> None:
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 4}
    async with running_daemon([MockReplica(faults=Faults(error_at=1))]) as daemon:
        answer = await daemon.client.post("/v1/chat/completions", json=chat)
        assert answer.status_code >= 500
        code = error_code(answer.json())
        assert rejected(daemon, code) == 0
        assert rejected(daemon, code, "pool-a") == 0
