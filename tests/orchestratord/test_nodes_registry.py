"""pool_managerd nodes register, heartbeat, deregister and are listed; their replicas serve tasks; leases
expire and come back; node tokens and admin keys guard the node endpoints."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from contracts.config_schema.common import sha256_hex
from mock_engine.faults import MockConfig
from mock_engine.server import MockServer, serve_mock
from tests.orchestratord.orchd_harness import MODEL, Daemon, eventually, make_config, running_daemon

NODE_TOKEN = "node-secret"
OTHER_NODE_TOKEN = "other-node-secret"
ADMIN_KEY = "admin-key"
CLIENT_KEY = "client-key"
DIGEST = "sha256:9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c1b3d5f7e9a1c3e5b7d9f1a3c5e7b9d1f"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


NODE = bearer(NODE_TOKEN)
ADMIN = bearer(ADMIN_KEY)
CLIENT = bearer(CLIENT_KEY)


def replica(replica_id: str, endpoint: str, *, ready: bool = True) -> dict[str, Any]:
    return {
        "replica_id": replica_id,
        "endpoint": endpoint,
        "engine_version": "b0-unknown",
        "model_digest": DIGEST,
        "determinism": "strict",
        "slots_total": 1,
        "ctx_max": 4096,
        "ready": ready,
        "devices": ["cpu"],
    }


def registration(
    node_id: str, pools: dict[str, list[dict[str, Any]]], *, interval_ms: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "node_id": node_id,
        "api_url": "http://127.0.0.1:9",
        "cpu_only": True,
        "devices": [],
        "pools": [
            {
                "pool_id": pool_id,
                "engine": "llamacpp",
                "model_ref": MODEL,
                "ready": True,
                "draining": False,
                "last_error": None,
                "replicas": replicas,
            }
            for pool_id, replicas in pools.items()
        ],
    }
    if interval_ms is not None:
        body["heartbeat_interval_ms"] = interval_ms
    return body


def heartbeat(pool_id: str, replica_ids: dict[str, bool]) -> dict[str, Any]:
    replicas = [{"replica_id": rid, "ready": ready, "slots_free": 1} for rid, ready in replica_ids.items()]
    return {
        "pools": [
            {"pool_id": pool_id, "ready": True, "draining": False, "last_error": None, "replicas": replicas}
        ]
    }


def secured_config(**overrides: Any) -> Any:
    return make_config(
        api_keys=[
            {"sha256": sha256_hex(ADMIN_KEY), "tenant": "ops", "role": "admin"},
            {"sha256": sha256_hex(CLIENT_KEY), "tenant": "acme", "role": "client"},
        ],
        node_tokens=[sha256_hex(NODE_TOKEN), sha256_hex(OTHER_NODE_TOKEN)],
        **overrides,
    )


@asynccontextmanager
async def node_stack(**overrides: Any) -> AsyncIterator[tuple[Daemon, MockServer]]:
    """A daemon without configured replicas, and a mock llama.cpp engine a node can register."""
    async with (
        serve_mock("llamacpp", MockConfig(slots=1, ctx_max=4096)) as engine,
        running_daemon((), config=secured_config(**overrides), headers=CLIENT) as daemon,
    ):
        yield daemon, engine


def ready_ids(daemon: Daemon) -> set[str]:
    return {r.replica_id for r in daemon.services.replicas.all() if r.ready}


@pytest.mark.req("ORCH-1110", "ORCH-1113", "ORCH-1101", "ORCH-5003")
async def test_a_registered_node_is_listed_and_its_replica_serves_tasks() -> None:
    async with node_stack() as (daemon, engine):
        answer = await daemon.client.post(
            "/v1/nodes/register",
            json=registration("host-1", {"pool-n": [replica("pool-n-r0", engine.base_url)]}),
            headers=NODE,
        )
        assert answer.status_code == 200
        assert answer.json() == {"node_id": "host-1", "lease_ms": 6000, "heartbeat_interval_ms": 2000}
        nodes = (await daemon.client.get("/v1/nodes", headers=ADMIN)).json()["nodes"]
        assert [(n["node_id"], n["live"], n["pools"], n["replicas_ready"]) for n in nodes] == [
            ("host-1", True, ["pool-n"], 1)
        ]
        assert 0 < nodes[0]["lease_expires_in_ms"] <= 6000
        pools = (await daemon.client.get("/v1/pools", headers=ADMIN)).json()["pools"]
        assert [(p["pool_id"], p["node_id"], p["ready"], p["slots_total"]) for p in pools] == [
            ("pool-n", "host-1", True, 1)
        ]
        task = await daemon.client.post(
            "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3}, headers=CLIENT
        )
        status = await daemon.wait_state(task.json()["task_id"], "succeeded", "failed")
    assert status["state"] == "succeeded"
    assert status["replay"]["replica_id"] == "pool-n-r0"
    assert status["replay"]["model_digest"] == DIGEST


@pytest.mark.req("ORCH-1110")
async def test_a_registration_replaces_the_previous_one_entirely() -> None:
    async with node_stack() as (daemon, engine):
        both = [replica("pool-n-r0", engine.base_url), replica("pool-n-r1", engine.base_url)]
        await daemon.client.post(
            "/v1/nodes/register", json=registration("host-1", {"pool-n": both}), headers=NODE
        )
        assert ready_ids(daemon) == {"pool-n-r0", "pool-n-r1"}
        one = [replica("pool-n-r1", engine.base_url)]
        again = await daemon.client.post(
            "/v1/nodes/register", json=registration("host-1", {"pool-m": one}), headers=NODE
        )
        assert again.status_code == 200
        assert {(r.replica_id, r.pool_id) for r in daemon.services.replicas.all()} == {
            ("pool-n-r1", "pool-m")
        }


@pytest.mark.req("ORCH-1110")
async def test_a_pool_of_another_live_node_is_409() -> None:
    async with node_stack() as (daemon, engine):
        pools = {"pool-n": [replica("pool-n-r0", engine.base_url)]}
        await daemon.client.post("/v1/nodes/register", json=registration("host-1", pools), headers=NODE)
        clash = await daemon.client.post(
            "/v1/nodes/register", json=registration("host-2", pools), headers=NODE
        )
    assert clash.status_code == 409
    assert clash.json()["code"] == "CONFLICT"
    assert "host-1" in clash.json()["message"]


@pytest.mark.req("ORCH-1111")
async def test_a_heartbeat_for_an_unknown_node_is_404_and_for_an_unknown_replica_409() -> None:
    async with node_stack() as (daemon, engine):
        unknown = await daemon.client.post(
            "/v1/nodes/host-9/heartbeat", json=heartbeat("pool-n", {"pool-n-r0": True}), headers=NODE
        )
        pools = {"pool-n": [replica("pool-n-r0", engine.base_url)]}
        await daemon.client.post("/v1/nodes/register", json=registration("host-1", pools), headers=NODE)
        stray = await daemon.client.post(
            "/v1/nodes/host-1/heartbeat", json=heartbeat("pool-n", {"pool-n-r7": True}), headers=NODE
        )
        fine = await daemon.client.post(
            "/v1/nodes/host-1/heartbeat", json=heartbeat("pool-n", {"pool-n-r0": True}), headers=NODE
        )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "NOT_FOUND"
    assert stray.status_code == 409
    assert fine.status_code == 200
    assert fine.json()["lease_ms"] == 6000


@pytest.mark.req("ORCH-1111", "ORCH-1114")
async def test_heartbeats_carry_replica_readiness() -> None:
    async with node_stack() as (daemon, engine):
        pools = {"pool-n": [replica("pool-n-r0", engine.base_url)]}
        await daemon.client.post("/v1/nodes/register", json=registration("host-1", pools), headers=NODE)
        await daemon.client.post(
            "/v1/nodes/host-1/heartbeat", json=heartbeat("pool-n", {"pool-n-r0": False}), headers=NODE
        )
        assert ready_ids(daemon) == set()
        await daemon.services.replicas.refresh()  # a healthy engine does not overrule its node
        assert ready_ids(daemon) == set()
        await daemon.client.post(
            "/v1/nodes/host-1/heartbeat", json=heartbeat("pool-n", {"pool-n-r0": True}), headers=NODE
        )
        assert ready_ids(daemon) == {"pool-n-r0"}


@pytest.mark.req("ORCH-1112", "ORCH-1062")
async def test_deregistering_a_node_removes_its_replicas_and_models() -> None:
    async with node_stack() as (daemon, engine):
        pools = {"pool-n": [replica("pool-n-r0", engine.base_url)]}
        await daemon.client.post("/v1/nodes/register", json=registration("host-1", pools), headers=NODE)
        models = (await daemon.client.get("/v1/models", headers=CLIENT)).json()["data"]
        assert [m["id"] for m in models] == [MODEL]
        gone = await daemon.client.delete("/v1/nodes/host-1", headers=NODE)
        again = await daemon.client.delete("/v1/nodes/host-1", headers=NODE)
        assert gone.status_code == 204
        assert again.status_code == 404
        assert daemon.services.replicas.all() == []
        assert (await daemon.client.get("/v1/nodes", headers=ADMIN)).json() == {"nodes": []}
        assert (await daemon.client.get("/v1/models", headers=CLIENT)).json()["data"] == []
        refused = await daemon.client.post(
            "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3}, headers=CLIENT
        )
        assert refused.status_code == 503


@pytest.mark.req("ORCH-1112", "ORCH-1120")
async def test_an_admin_may_delete_a_node_and_a_client_may_not() -> None:
    async with node_stack() as (daemon, engine):
        pools = {"pool-n": [replica("pool-n-r0", engine.base_url)]}
        await daemon.client.post("/v1/nodes/register", json=registration("host-1", pools), headers=NODE)
        by_client = await daemon.client.delete("/v1/nodes/host-1", headers=CLIENT)
        by_admin = await daemon.client.delete("/v1/nodes/host-1", headers=ADMIN)
    assert by_client.status_code == 403
    assert by_admin.status_code == 204


@pytest.mark.req("ORCH-5003", "ORCH-5002", "ORCH-1120")
async def test_node_endpoints_need_a_node_token_and_listing_needs_admin() -> None:
    async with node_stack() as (daemon, engine):
        body = registration("host-1", {"pool-n": [replica("pool-n-r0", engine.base_url)]})
        unsigned = daemon.client.build_request("POST", "/v1/nodes/register", json=body)
        del unsigned.headers["Authorization"]
        missing = await daemon.client.send(unsigned)
        wrong = await daemon.client.post("/v1/nodes/register", json=body, headers=bearer("guess"))
        api_key = await daemon.client.post("/v1/nodes/register", json=body, headers=ADMIN)
        await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)
        foreign = await daemon.client.post(
            "/v1/nodes/host-1/heartbeat",
            json=heartbeat("pool-n", {"pool-n-r0": True}),
            headers=bearer(OTHER_NODE_TOKEN),
        )
        list_by_client = await daemon.client.get("/v1/nodes", headers=CLIENT)
        list_by_node = await daemon.client.get("/v1/nodes", headers=NODE)
        anonymous = daemon.client.build_request("GET", "/v1/nodes")
        del anonymous.headers["Authorization"]
        list_anonymous = await daemon.client.send(anonymous)
    assert (missing.status_code, missing.json()["code"]) == (401, "UNAUTHORIZED")
    assert wrong.status_code == 401
    assert (api_key.status_code, api_key.json()["code"]) == (401, "UNAUTHORIZED")
    assert (foreign.status_code, foreign.json()["code"]) == (403, "FORBIDDEN")
    assert (list_by_client.status_code, list_by_client.json()["code"]) == (403, "FORBIDDEN")
    assert list_by_node.status_code == 403
    assert list_anonymous.status_code == 401


@pytest.mark.req("ORCH-1114", "ORCH-6013")
async def test_a_silent_node_goes_unready_after_its_lease_and_returns_on_registration() -> None:
    interval_s = 0.3
    async with node_stack(node_lease={"heartbeat_interval_ms": 300, "lease_intervals": 3}) as (
        daemon,
        engine,
    ):
        pools = {"pool-n": [replica("pool-n-r0", engine.base_url)]}
        body = registration("host-1", pools)
        await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)
        await daemon.client.post(
            "/v1/nodes/host-1/heartbeat", json=heartbeat("pool-n", {"pool-n-r0": True}), headers=NODE
        )
        last_heartbeat = time.monotonic()
        await eventually(lambda: not ready_ids(daemon), timeout_s=3.0)
        silent_s = time.monotonic() - last_heartbeat
        # Unready after the lease (3 intervals), and within 3 intervals of the first missed heartbeat.
        assert 3 * interval_s * 0.9 <= silent_s <= 4 * interval_s
        nodes = (await daemon.client.get("/v1/nodes", headers=ADMIN)).json()["nodes"]
        assert (nodes[0]["live"], nodes[0]["lease_expires_in_ms"], nodes[0]["replicas_ready"]) == (
            False,
            0,
            0,
        )
        pools_listed = (await daemon.client.get("/v1/pools", headers=ADMIN)).json()["pools"]
        assert (pools_listed[0]["live"], pools_listed[0]["ready"]) == (False, False)
        refused = await daemon.client.post(
            "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3}, headers=CLIENT
        )
        assert (refused.status_code, refused.json()["code"]) == (503, "POOL_UNREADY")
        again = await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)
        assert again.status_code == 200
        assert ready_ids(daemon) == {"pool-n-r0"}
        task = await daemon.client.post(
            "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": 3}, headers=CLIENT
        )
        status = await daemon.wait_state(task.json()["task_id"], "succeeded", "failed")
        assert status["state"] == "succeeded"
