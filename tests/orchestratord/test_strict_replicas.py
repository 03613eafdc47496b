"""Strict tasks only ever run on replicas registered `determinism: strict` (ORCH-3505): pool resolution
considers strict pools only (ORCH-3009), and with none serving the model the task is refused 503
POOL_UNAVAILABLE saying so; best_effort tasks run anywhere (ORCH-3504)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from mock_engine.faults import MockConfig
from mock_engine.server import serve_mock
from tests.orchestratord.orchd_harness import MODEL, Daemon
from tests.orchestratord.test_nodes_registry import NODE, node_stack, registration, replica


def with_mode(body: dict[str, Any], replica_id: str, mode: str, slots: int = 1) -> dict[str, Any]:
    for pool in body["pools"]:
        for entry in pool["replicas"]:
            if entry["replica_id"] == replica_id:
                entry["determinism"], entry["slots_total"] = mode, slots
    return body


@asynccontextmanager
async def two_pools(best_effort_slots: int = 4) -> AsyncIterator[Daemon]:
    """One node with a roomy best_effort pool and a one-slot strict pool, both serving MODEL."""
    config = MockConfig(slots=best_effort_slots, ctx_max=4096)
    async with node_stack() as (daemon, strict_engine), serve_mock("llamacpp", config) as relaxed_engine:
        body = registration(
            "host-1",
            {
                "pool-be": [replica("pool-be-r0", relaxed_engine.base_url)],
                "pool-st": [replica("pool-st-r0", strict_engine.base_url)],
            },
        )
        with_mode(body, "pool-be-r0", "best_effort", slots=best_effort_slots)
        with_mode(body, "pool-st-r0", "strict")
        answer = await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)
        assert answer.status_code == 200, answer.text
        yield daemon


@asynccontextmanager
async def best_effort_only() -> AsyncIterator[Daemon]:
    """A daemon whose only pool serving MODEL was registered best_effort, as a TGI or Triton node does."""
    async with node_stack() as (daemon, engine):
        body = with_mode(
            registration("host-1", {"pool-be": [replica("pool-be-r0", engine.base_url)]}),
            "pool-be-r0",
            "best_effort",
        )
        assert (await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)).status_code == 200
        yield daemon


async def placed_on(daemon: Daemon, determinism: str) -> tuple[str, str]:
    """(pool the task was queued for, replica it ran on)."""
    answer = await daemon.client.post(
        "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3, "determinism": determinism}
    )
    assert answer.status_code == 202, answer.text
    status = await daemon.wait_state(answer.json()["task_id"], "succeeded", "failed")
    assert status["state"] == "succeeded", status
    record = daemon.services.registry.get(answer.json()["task_id"])
    return record.admission.pool_id, status["replay"]["replica_id"]


@pytest.mark.req("ORCH-3505", "ORCH-1110")
async def test_the_registered_mode_reaches_the_replica_view() -> None:
    async with two_pools() as daemon:
        replicas = daemon.services.replicas
        modes = {r.replica_id: replicas.view(r).determinism for r in replicas.all()}
    assert modes == {"pool-be-r0": "best_effort", "pool-st-r0": "strict"}


@pytest.mark.req("ORCH-3009", "ORCH-3505", "ORCH-3504")
async def test_a_strict_task_joins_the_strict_pool_even_when_a_best_effort_pool_has_more_room() -> None:
    async with two_pools() as daemon:
        assert await placed_on(daemon, "strict") == ("pool-st", "pool-st-r0")
        # The best_effort pool ranks first on free slots, so a best_effort task goes there (ORCH-3504).
        assert await placed_on(daemon, "best_effort") == ("pool-be", "pool-be-r0")


@pytest.mark.req("ORCH-3505", "ORCH-3009", "ORCH-3007")
async def test_a_strict_task_without_strict_replicas_is_refused_saying_no_strict_replica_serves_it() -> None:
    async with best_effort_only() as daemon:
        refused = await daemon.client.post(
            "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3, "determinism": "strict"}
        )
        relaxed = await daemon.client.post(
            "/v1/tasks",
            json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3, "determinism": "best_effort"},
        )
    assert refused.status_code == 503
    error = refused.json()
    assert error["code"] == "POOL_UNAVAILABLE"
    assert f"no strict replica serves model {MODEL}" in error["message"]
    assert relaxed.status_code == 202, relaxed.text


@pytest.mark.req("ORCH-3505")
async def test_a_registration_without_a_mode_is_refused_naming_the_field() -> None:
    async with node_stack() as (daemon, engine):
        body = registration("host-1", {"pool-n": [replica("pool-n-r0", engine.base_url)]})
        del body["pools"][0]["replicas"][0]["determinism"]
        answer = await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_PARAMS"
    assert "determinism" in answer.json()["message"]
