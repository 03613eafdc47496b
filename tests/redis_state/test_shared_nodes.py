"""The node registry shared through Redis, with real processes (ORCH-4113): a pool_managerd registers
through one instance and heartbeats through the other, both place tasks on its replica, its lease runs out
on both when the heartbeats stop, and a deregistration through one is seen by the other."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from test_harness.cluster import Cluster, cluster, mock_engine
from tests.redis_state.test_cluster import read_events, started_here, wait_for
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(120)]
NODE_TOKEN = "node-token-shared"
NODE = {"Authorization": f"Bearer {NODE_TOKEN}"}
NODE_MODEL = "node-model"
DIGEST = "sha256:" + "ab" * 32
INTERVAL_MS = 300  # the node's heartbeat interval; its lease lasts 3 of them


def registration(endpoint: str) -> dict[str, Any]:
    return {
        "node_id": "gpu-host-1",
        "api_url": "http://127.0.0.1:9",
        "cpu_only": True,
        "devices": [],
        "heartbeat_interval_ms": INTERVAL_MS,
        "pools": [
            {
                "pool_id": "pool-node",
                "engine": "llamacpp",
                "model_ref": NODE_MODEL,
                "ready": True,
                "draining": False,
                "last_error": None,
                "replicas": [
                    {
                        "replica_id": "node-r0",
                        "endpoint": endpoint,
                        "engine_version": "b0-mock",
                        "model_digest": DIGEST,
                        "determinism": "strict",
                        "slots_total": 2,
                        "ctx_max": 4096,
                        "ready": True,
                        "devices": ["cpu"],
                    }
                ],
            }
        ],
    }


HEARTBEAT = {
    "pools": [
        {
            "pool_id": "pool-node",
            "ready": True,
            "draining": False,
            "last_error": None,
            "replicas": [{"replica_id": "node-r0", "ready": True, "slots_free": 2}],
        }
    ]
}


def node_seen(running: Cluster, index: int) -> dict[str, Any] | None:
    with running.http(index) as client:
        answer = client.get("/v1/nodes")
    assert answer.status_code == 200, answer.text
    nodes = answer.json()["nodes"]
    return next((node for node in nodes if node["node_id"] == "gpu-host-1"), None)


def run_on_node(running: Cluster, index: int) -> str:
    with running.http(index) as client:
        answer = client.post("/v1/tasks", json={"model_ref": NODE_MODEL, "prompt": "node", "max_tokens": 4})
    assert answer.status_code == 202, answer.text
    task_id = str(answer.json()["task_id"])
    kind, end = read_events(running, index, task_id)[-1]
    assert kind == "end" and end["stop_reason"] == "max_tokens", end
    return task_id


@pytest.mark.req("ORCH-4113")
def test_a_node_registered_through_one_instance_serves_and_expires_on_both(
    redis_process: RedisServer,
) -> None:
    token_hash = hashlib.sha256(NODE_TOKEN.encode()).hexdigest()
    with cluster(redis_process.url, instances=2, node_tokens=[token_hash]) as running:
        with mock_engine(running.work_dir, model=NODE_MODEL, name="node-engine") as engine:
            with running.http(0) as first:
                answer = first.post("/v1/nodes/register", json=registration(engine.url), headers=NODE)
            assert answer.status_code == 200, answer.text
            wait_for(lambda: (node_seen(running, 1) or {}).get("replicas_ready") == 1, timeout_s=5)
            # Heartbeats through the other instance keep the lease alive on both.
            with running.http(1) as second:
                for _ in range(8):  # 2.4 s: twice the lease
                    beat = second.post("/v1/nodes/gpu-host-1/heartbeat", json=HEARTBEAT, headers=NODE)
                    assert beat.status_code == 200, beat.text
                    time.sleep(INTERVAL_MS / 1000)
            seen = [node_seen(running, index) for index in (0, 1)]
            assert all(node is not None and node["live"] for node in seen), seen
            ran = {run_on_node(running, 0), run_on_node(running, 1)}
            assert ran <= started_here(running, 0) | started_here(running, 1)
            # No heartbeat for the lease: the node is not live on either instance.
            wait_for(lambda: not any((node_seen(running, i) or {}).get("live") for i in (0, 1)), timeout_s=5)
            # Deregistered through one instance, gone from the other.
            with running.http(1) as second:
                assert second.delete("/v1/nodes/gpu-host-1", headers=NODE).status_code == 204
            wait_for(lambda: node_seen(running, 0) is None, timeout_s=5)
