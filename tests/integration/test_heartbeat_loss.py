"""A host whose pool_managerd stops heartbeating loses its lease after 3 heartbeat intervals: orchestratord
takes its replicas out of placement while the other host keeps serving, and puts them back as soon as the
host heartbeats again."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from test_harness.chaos.stack import NodePlan
from tests.integration.two_hosts import (
    LEASE_CHECK_MAX_MS,
    LEASE_MS,
    TwoHosts,
    eventually,
    replica_ids,
    two_hosts,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
PLANS = [
    NodePlan("host-a", ["pool-a"], replicas=1, model="a"),
    NodePlan("host-b", ["pool-b"], replicas=1, model="b"),
]


def lease_expiries(hosts: TwoHosts, node_id: str) -> list[int]:
    """How long the node had been silent (ms) each time orchestratord expired its lease, from its log."""
    silences = []
    for event in hosts.orchestratord_events("node.lease_expired"):
        if event.get("node_id") == node_id:
            found = re.search(r"no heartbeat for (\d+) ms", str(event.get("reason")))
            assert found, event
            silences.append(int(found.group(1)))
    return silences


def served_by(hosts: TwoHosts, model: str, host_id: str, pool_id: str) -> None:
    seen = hosts.run(model)
    assert seen.terminal[0] == "end", seen.events
    assert seen.started["pool_id"] == pool_id, seen.started
    assert seen.started["replica_id"] in replica_ids(hosts.node_pools(host_id), pool_id)


@pytest.mark.req("ORCH-1114", "ORCH-6013", "ORCH-1111", "ORCH-1113", "ORCH-1101", "ORCH-1102", "ORCH-1072")
def test_frozen_host_loses_its_lease_after_three_heartbeats_and_returns_when_it_resumes() -> None:
    with two_hosts(PLANS) as hosts:
        model_a, model_b = str(hosts.stack.model_a), str(hosts.stack.model_b)
        host_b = hosts.node("host-b")
        served_by(hosts, model_b, "host-b", "pool-b")
        os.kill(host_b.pid, signal.SIGSTOP)
        try:
            eventually(
                "host-b's replica is unready to orchestratord",
                lambda: hosts.nodes()["host-b"]["replicas_ready"] == 0,
                timeout_s=10,
            )
            # The lease is 3 heartbeat intervals, checked at least every 500 ms (ORCH-1114).
            (silent_ms,) = lease_expiries(hosts, "host-b")
            assert LEASE_MS < silent_ms <= LEASE_MS + LEASE_CHECK_MAX_MS, silent_ms
            assert lease_expiries(hosts, "host-a") == []

            node_b = hosts.nodes()["host-b"]
            assert (node_b["live"], node_b["lease_expires_in_ms"]) == (False, 0), node_b
            assert node_b["last_heartbeat_ms_ago"] > LEASE_MS
            pools = hosts.pools()
            assert (pools["pool-b"]["ready"], pools["pool-b"]["replicas_ready"]) == (False, 0), pools
            assert (pools["pool-a"]["ready"], pools["pool-a"]["replicas_ready"]) == (True, 1), pools

            refused = hosts.submit(model_b)
            assert refused.status_code == 503, refused.text
            assert (refused.json()["code"], refused.json()["retriable"]) == ("POOL_UNREADY", True)
            with hosts.client() as admin:
                asked = time.monotonic()
                health = admin.get("/v1/pools/pool-b/health")
                # Answered from the lease, without waiting for the frozen node.
                assert time.monotonic() - asked < 2.0
                assert health.status_code == 503 and health.json()["code"] == "POOL_UNAVAILABLE", health.text
                assert health.json()["pool_id"] == "pool-b"
                ready = admin.get("/readyz")
            assert ready.status_code == 200 and ready.json()["replicas_ready"] == 1, ready.text
            for _ in range(2):
                served_by(hosts, model_a, "host-a", "pool-a")
        finally:
            os.kill(host_b.pid, signal.SIGCONT)

        eventually(
            "host-b is live with its replica ready again",
            lambda: hosts.nodes()["host-b"]["live"] and hosts.nodes()["host-b"]["replicas_ready"] == 1,
            timeout_s=5,
        )
        assert hosts.pools()["pool-b"]["ready"] is True
        served_by(hosts, model_b, "host-b", "pool-b")
        with hosts.client() as admin:
            health = admin.get("/v1/pools/pool-b/health")
        assert health.status_code == 200 and health.json()["ready"] is True, health.text
