"""Two pool_managerd hosts on one machine register with one orchestratord as separate nodes, each serves its
own model with its own replicas, a deleted node registers again on its next (404) heartbeat, and SIGTERM to
every daemon leaves no process behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from test_harness.chaos.stack import NodePlan
from tests.integration.two_hosts import (
    LEASE_MS,
    TwoHosts,
    engine_pids,
    eventually,
    replica_ids,
    survivors,
    terminate_everything,
    two_hosts,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
PLANS = [
    NodePlan("host-a", ["pool-a"], replicas=2, model="a"),
    NodePlan("host-b", ["pool-b"], replicas=2, model="b"),
]


def heartbeats(hosts: TwoHosts, host_id: str) -> dict[str, float]:
    """poolmgr_heartbeats_total by result, from the host's own /metrics."""
    with hosts.node_api(host_id) as api:
        text = api.get("/metrics").text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "poolmgr_heartbeats")
    return {s.labels["result"]: s.value for s in family.samples if s.name == "poolmgr_heartbeats_total"}


@pytest.mark.req("ORCH-6022", "ORCH-1110", "ORCH-1113", "ORCH-6013", "ORCH-6014", "ORCH-6016", "ORCH-6005")
def test_two_hosts_register_as_separate_nodes_and_serve_their_own_models() -> None:
    with two_hosts(PLANS) as hosts:
        nodes = hosts.nodes()
        assert sorted(nodes) == ["host-a", "host-b"]
        api_urls = set()
        for host_id, pool_id in (("host-a", "pool-a"), ("host-b", "pool-b")):
            node = nodes[host_id]
            assert node["live"] and node["pools"] == [pool_id], node
            assert (node["replicas_total"], node["replicas_ready"]) == (2, 2), node
            assert (
                0 <= node["last_heartbeat_ms_ago"] <= LEASE_MS and 0 < node["lease_expires_in_ms"] <= LEASE_MS
            )
            with hosts.node_api(host_id) as api:
                assert str(api.base_url).rstrip("/") == node["api_url"]
            api_urls.add(node["api_url"])
        assert len(api_urls) == 2

        # Each host runs its engines on its own ports.
        ports = {}
        for host_id, pool_id in (("host-a", "pool-a"), ("host-b", "pool-b")):
            (pool,) = hosts.node_pools(host_id)
            assert pool["pool_id"] == pool_id and pool["ready"], pool
            ports[host_id] = {replica["port"] for replica in pool["replicas"]}
        assert not ports["host-a"] & ports["host-b"]

        for model, host_id, pool_id in (
            (hosts.stack.model_a, "host-a", "pool-a"),
            (hosts.stack.model_b, "host-b", "pool-b"),
        ):
            own = replica_ids(hosts.node_pools(host_id), pool_id)
            for _ in range(3):
                seen = hosts.run(str(model))
                assert seen.terminal[0] == "end", seen.events
                assert seen.started["pool_id"] == pool_id and seen.started["replica_id"] in own, seen.started

        # ...and logs each replica in its own directory as <log_dir>/<replica_id>.log (ORCH-6005).
        for host_id, pool_id in (("host-a", "pool-a"), ("host-b", "pool-b")):
            log_dir = hosts.stack.work_dir / f"{host_id}-replicas"
            expected = sorted(f"{r}.log" for r in replica_ids(hosts.node_pools(host_id), pool_id))
            assert expected == [f"{pool_id}-r0.log", f"{pool_id}-r1.log"]
            assert sorted(p.name for p in log_dir.iterdir()) == expected


@pytest.mark.req("ORCH-1112", "ORCH-1111", "ORCH-6013", "ORCH-6009", "ORCH-4004", "ORCH-9019")
def test_a_deleted_node_registers_again_and_sigterm_leaves_no_process() -> None:
    with two_hosts(PLANS) as hosts:
        host_b = hosts.node("host-b")
        assert heartbeats(hosts, "host-b").get("not_found", 0) == 0
        # Frozen, host-b cannot re-register before the deletion has been observed.
        os.kill(host_b.pid, signal.SIGSTOP)
        try:
            with hosts.client() as admin:
                deleted = admin.delete("/v1/nodes/host-b")
            assert deleted.status_code == 204, deleted.text
            assert sorted(hosts.nodes()) == ["host-a"]
            refused = hosts.submit(str(hosts.stack.model_b))
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "POOL_UNAVAILABLE" and refused.json()["retriable"] is True
            with hosts.client() as admin:
                unknown = admin.get("/v1/pools/pool-b/health")
            assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND", unknown.text
        finally:
            os.kill(host_b.pid, signal.SIGCONT)

        # Its next heartbeat is answered 404, and it registers again on its own.
        eventually(
            "host-b registered again with both replicas ready",
            lambda: hosts.nodes().get("host-b", {}).get("replicas_ready") == 2,
            timeout_s=10,
        )
        assert heartbeats(hosts, "host-b")["not_found"] >= 1
        seen = hosts.run(str(hosts.stack.model_b))
        assert seen.terminal[0] == "end" and seen.started["pool_id"] == "pool-b"

        engines = engine_pids(hosts)
        assert len(engines) == 4
        codes = terminate_everything(hosts)
        daemons = {daemon.pid for daemon in [hosts.stack.orchestratord, *hosts.stack.nodes.values()]}
        assert engines <= hosts.stack.seen_pids
        # Every daemon and engine ran in its own process group: no process may be left in any of them.
        assert survivors(hosts.stack.seen_pids | daemons) == ([], [])
        for log in sorted(Path(hosts.stack.work_dir).glob("pool_managerd-*.log")):
            assert "all engine processes stopped" in log.read_text(), log
        # ORCH-6009 (pool_managerd) and ORCH-4004 (orchestratord): a SIGTERM ends with exit status 0.
        assert codes == {"pool_managerd:host-a": 0, "pool_managerd:host-b": 0, "orchestratord": 0}
