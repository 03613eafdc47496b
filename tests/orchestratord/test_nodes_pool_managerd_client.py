"""pool_managerd's own registration client against orchestratord: it registers, heartbeats readiness,
registers again after orchestratord forgot it, and deregisters."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from contracts.config_schema.common import sha256_hex
from mock_engine.faults import MockConfig
from mock_engine.server import serve_mock
from pool_managerd.devices import DeviceInventory
from pool_managerd.registration import NodeIdentity, RegistrationClient
from pool_managerd.status import PoolStatus, ReplicaStatus
from tests.orchestratord.orchd_harness import MODEL, Daemon, make_config, running_daemon

NODE_TOKEN = "node-token-0123456789"


def pool_status(endpoint: str, *, ready: bool = True) -> PoolStatus:
    replica = ReplicaStatus(
        replica_id="p1-r0",
        replica_set="p1-g1",
        endpoint=endpoint,
        state="ready" if ready else "unready",
        ready=ready,
        pid=1234,
        port=httpx.URL(endpoint).port or 80,
        last_exit_code=None,
        device="cpu",
        slots=1,
        ctx_max=2048,
        engine_version="b0-unknown",
        restarts=0,
        crashes=0,
        last_error=None,
        log_path="/tmp/p1-r0.log",
    )
    return PoolStatus(
        pool_id="p1",
        engine="llamacpp",
        determinism="strict",
        model_ref=MODEL,
        model_digest="sha256:" + "ab" * 32,
        engine_version="b0-unknown",
        replica_set="p1-g1",
        live=True,
        ready=ready,
        draining=False,
        drained=False,
        breaker_open=False,
        last_error=None,
        slots_total=1,
        replicas=(replica,),
    )


@dataclasses.dataclass
class Node:
    daemon: Daemon
    client: RegistrationClient
    statuses: list[PoolStatus]

    def ready(self) -> bool:
        replica = self.daemon.services.replicas.find("p1-r0")
        return replica is not None and replica.ready


@asynccontextmanager
async def node_and_daemon() -> AsyncIterator[Node]:
    async with (
        serve_mock("llamacpp", MockConfig(slots=1)) as engine,
        running_daemon((), config=make_config(node_tokens=[sha256_hex(NODE_TOKEN)])) as daemon,
    ):
        statuses = [pool_status(engine.base_url)]

        async def load() -> dict[str, int | None]:
            return {"p1-r0": 0}

        client = RegistrationClient(
            NodeIdentity("host-a", "http://127.0.0.1:9200", NODE_TOKEN, heartbeat_interval_s=2.0),
            daemon.client,
            pools=lambda: statuses,
            inventory=lambda: DeviceInventory(note="nvidia-smi not found"),
            load=load,
        )
        yield Node(daemon, client, statuses)


@pytest.mark.req("ORCH-6013", "ORCH-1110", "ORCH-1111")
async def test_the_node_client_registers_heartbeats_and_reports_readiness() -> None:
    async with node_and_daemon() as node:
        await node.client.step()
        assert node.client.state.registered
        assert node.ready()
        node.statuses[0] = pool_status(node.statuses[0].replicas[0].endpoint, ready=False)
        await node.client.step()
        assert node.client.state.heartbeats["ok"] == 1
        assert not node.ready()
        lease = node.daemon.services.nodes.get("host-a")
        assert (lease.heartbeat_interval_s, lease.lease_s) == (2.0, 6.0)


@pytest.mark.req("ORCH-6013", "ORCH-1111", "ORCH-1114")
async def test_the_node_client_registers_again_when_orchestratord_forgot_it() -> None:
    async with node_and_daemon() as node:
        await node.client.step()
        node.daemon.services.nodes.deregister("host-a")
        assert not node.ready()
        await node.client.step()
        assert node.client.state.heartbeats["not_found"] == 1
        assert node.client.state.registrations["ok"] == 2
        assert node.ready()


@pytest.mark.req("ORCH-6009", "ORCH-1112")
async def test_the_node_client_deregisters_with_its_token() -> None:
    async with node_and_daemon() as node:
        await node.client.step()
        await node.client.deregister()
        assert node.daemon.services.nodes.nodes() == []
        assert node.daemon.services.replicas.find("p1-r0") is None
