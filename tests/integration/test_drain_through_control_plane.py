"""Draining a pool through orchestratord's control plane: only an admin may, the drain reaches the
pool_managerd that owns the pool, the stream running on it completes, and afterwards the pool reports
draining, takes no new task and its replicas stop; the other host is untouched."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from test_harness.chaos.stack import NodePlan
from tests.integration.two_hosts import TwoHosts, eventually, replica_ids, two_hosts

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
PLANS = [
    NodePlan("host-a", ["pool-a"], replicas=1, model="a"),
    NodePlan("host-b", ["pool-b"], replicas=1, model="b", token_delay_ms=40),
]
STREAM_TOKENS = 50
DEADLINE_MS = 10_000


def own_pool(hosts: TwoHosts, host_id: str) -> dict[str, Any]:
    (pool,) = hosts.node_pools(host_id)
    return pool


def drain(hosts: TwoHosts, key: str | None, deadline_ms: int) -> httpx.Response:
    with hosts.client(key) as client:
        return client.post("/v1/pools/pool-b/drain", json={"deadline_ms": deadline_ms})


def tokens_out(hosts: TwoHosts, task_id: str) -> int:
    with hosts.client(hosts.keys.client) as client:
        return int(client.get(f"/v1/tasks/{task_id}").json()["tokens_out"])


@pytest.mark.req("ORCH-6011", "ORCH-1103", "ORCH-1120", "ORCH-5002", "ORCH-5003", "ORCH-1102", "ORCH-1101")
def test_drain_through_orchestratord_reaches_the_owning_host_and_the_running_stream_completes() -> None:
    with two_hosts(PLANS) as hosts, ThreadPoolExecutor(1) as reader:
        node_token = orjson.loads(hosts.node("host-b").config_path.read_bytes())["node_token"]
        refused = {
            "no key": drain(hosts, "", DEADLINE_MS),
            "client key": drain(hosts, hosts.keys.client, DEADLINE_MS),
            "node token": drain(hosts, node_token, DEADLINE_MS),
        }
        statuses = {who: (r.status_code, r.json()["code"]) for who, r in refused.items()}
        assert statuses == {
            "no key": (401, "UNAUTHORIZED"),
            "client key": (403, "FORBIDDEN"),
            "node token": (403, "FORBIDDEN"),
        }
        assert refused["no key"].headers["WWW-Authenticate"].startswith("Bearer")
        assert own_pool(hosts, "host-b")["draining"] is False

        admitted = hosts.submit(str(hosts.stack.model_b), max_tokens=STREAM_TOKENS)
        assert admitted.status_code == 202, admitted.text
        task_id = str(admitted.json()["task_id"])
        stream = reader.submit(hosts.follow, task_id, 30)
        eventually("the stream runs", lambda: tokens_out(hosts, task_id) > 0, 10)

        drained = drain(hosts, None, DEADLINE_MS)
        assert drained.status_code == 202, drained.text
        assert drained.json() == {"pool_id": "pool-b", "draining": True, "deadline_ms": DEADLINE_MS}
        assert own_pool(hosts, "host-b")["draining"] is True  # it reached the owning pool_managerd
        assert own_pool(hosts, "host-a")["draining"] is False
        assert tokens_out(hosts, task_id) < STREAM_TOKENS, "the drain must happen while the stream runs"

        with hosts.client() as admin:
            health = admin.get("/v1/pools/pool-b/health")
        assert health.status_code == 200 and health.json()["draining"] is True, health.text
        no_lease = hosts.submit(str(hosts.stack.model_b))
        assert no_lease.status_code == 503, no_lease.text
        assert no_lease.json()["code"] in {"POOL_UNAVAILABLE", "POOL_UNREADY"}
        other = hosts.run(str(hosts.stack.model_a))
        assert other.terminal[0] == "end" and other.started["pool_id"] == "pool-a"
        assert other.started["replica_id"] in replica_ids(hosts.node_pools("host-a"), "pool-a")

        # A second drain while the first runs is accepted and the sooner deadline applies (ORCH-1103).
        sooner = drain(hosts, None, DEADLINE_MS // 2)

        seen = stream.result(timeout=30)
        event, data = seen.terminal
        assert (event, data["stop_reason"]) == ("end", "max_tokens"), seen.events[-2:]
        assert seen.tokens == STREAM_TOKENS and seen.started["pool_id"] == "pool-b"

        pools = hosts.pools()
        assert (pools["pool-b"]["draining"], pools["pool-b"]["ready"]) == (True, False), pools["pool-b"]
        assert (pools["pool-a"]["draining"], pools["pool-a"]["ready"]) == (False, True), pools["pool-a"]
        # In-flight work is done, so the replicas stop well before the deadline.
        eventually(
            "host-b's replicas stopped",
            lambda: [r["state"] for r in own_pool(hosts, "host-b")["replicas"]] == ["stopped"],
            timeout_s=DEADLINE_MS / 1000,
        )
        assert sooner.status_code == 202, sooner.text
        assert sooner.json() == {"pool_id": "pool-b", "draining": True, "deadline_ms": DEADLINE_MS // 2}
