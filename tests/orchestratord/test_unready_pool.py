"""Queued tasks of a pool that loses its ready replicas: dispatched when one returns, ended with POOL_UNREADY
after the unready wait, never left behind by a failing probe or at shutdown."""

from __future__ import annotations

import pytest

from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from mock_engine.faults import Faults, MockConfig
from orchestrator_core.errors import WorkerReset
from orchestratord.services.replicas import ReplicaSpec
from orchestratord.services.task_spec import TaskState
from orchestratord.wiring import Services
from tests.orchestratord.orchd_harness import (
    MODEL,
    Daemon,
    MockReplica,
    eventually,
    make_config,
    read_stream,
    running_daemon,
)
from worker_adapters.types import Health


def one_slow_slot() -> list[MockReplica]:
    """A fresh replica each time: the tests change its faults."""
    return [MockReplica(slots=1, faults=Faults(token_delay_ms=20))]


async def queue_behind_unready_replica(daemon: Daemon, count: int) -> tuple[str, list[str]]:
    """One task holding the only slot, `count` queued behind it, then the replica turns unready."""
    running = (await daemon.submit(max_tokens=1_000)).json()["task_id"]
    await daemon.wait_state(running, "running")
    queued = [(await daemon.submit(max_tokens=3)).json()["task_id"] for _ in range(count)]
    daemon.engines["r0"].faults.dead = True
    daemon.services.replicas.update("r0", ready=False, last_error="probe failed")
    await daemon.client.post(f"/v1/tasks/{running}/cancel")
    return running, queued


@pytest.mark.req("ORCH-2013", "ORCH-4001")
async def test_queued_tasks_are_dispatched_when_the_replica_is_ready_again() -> None:
    async with running_daemon(one_slow_slot()) as daemon:
        _, queued = await queue_behind_unready_replica(daemon, 3)
        for task_id in queued:
            assert (await daemon.client.get(f"/v1/tasks/{task_id}")).json()["state"] == "queued"
        daemon.engines["r0"].faults.dead = False  # the next replica poll finds it ready
        for task_id in queued:
            assert (await daemon.wait_state(task_id, "succeeded", "failed"))["state"] == "succeeded"
        assert len(daemon.services.queues.get("pool-a")) == 0


@pytest.mark.req("ORCH-2013", "ORCH-1018")
async def test_tasks_queued_for_an_unready_pool_end_with_pool_unready_after_the_wait() -> None:
    config = make_config(queues={"defaults": {"unready_wait_ms": 300}})
    async with running_daemon(one_slow_slot(), config=config) as daemon:
        _, queued = await queue_behind_unready_replica(daemon, 3)
        for task_id in queued:
            status = await daemon.wait_state(task_id, "failed", timeout_s=5.0)
            assert status["error"]["code"] == "POOL_UNREADY"
            _, events = await read_stream(daemon.client, task_id)
            assert [e.event for e in events] == ["error"]
        assert len(daemon.services.queues.get("pool-a")) == 0


@pytest.mark.req("ORCH-4002", "ORCH-2202")
async def test_a_requeued_task_keeps_its_deadline() -> None:
    async with running_daemon(one_slow_slot()) as daemon:
        blocker = (await daemon.submit(max_tokens=1_000)).json()["task_id"]
        await daemon.wait_state(blocker, "running")
        deadline_ms = 600_000
        task_id = (await daemon.submit(max_tokens=3, deadline_ms=deadline_ms)).json()["task_id"]
        record = daemon.services.registry.get(task_id)
        queue = daemon.services.queues.get("pool-a")
        assert await queue.cancel(task_id) is not None  # as if dequeued and placed
        replica = daemon.services.replicas.get("r0")
        daemon.services.lifecycle.dispatched(record, replica, daemon.services.replicas.view(replica).identity)
        assert await daemon.services.requeuer.requeue(record, "r0", WorkerReset("dropped"))
        requeued = await queue.get(task_id)
        assert requeued is not None and record.state is TaskState.QUEUED
        assert requeued.deadline_at_ms == pytest.approx(record.admitted_at * 1000 + deadline_ms)
        await daemon.client.post(f"/v1/tasks/{blocker}/cancel")


@pytest.mark.req("ORCH-4004")
async def test_shutdown_ends_every_queued_task_and_admits_nothing_more() -> None:
    async with running_daemon(one_slow_slot()) as daemon:
        _, queued = await queue_behind_unready_replica(daemon, 3)
        await daemon.services.shutdown.shutdown()
        for task_id in queued:
            status = (await daemon.client.get(f"/v1/tasks/{task_id}")).json()
            assert status["state"] == "failed" and status["error"]["code"] == "POOL_UNAVAILABLE"
        assert len(daemon.services.queues.get("pool-a")) == 0
        assert (await daemon.submit()).status_code == 503


class BrokenProbeAdapter(MockAdapter):
    """An adapter whose health probe fails with an unexpected exception."""

    async def health(self) -> Health:
        raise RuntimeError("probe bug")


@pytest.mark.req("ORCH-6006", "ORCH-4001")
async def test_a_probe_that_raises_marks_only_its_replica_unready_and_dispatch_goes_on() -> None:
    def add_broken(services: Services) -> None:
        spec = ReplicaSpec(replica_id="broken", pool_id="pool-a", engine="llamacpp", model_ref=MODEL)
        services.replicas.register(spec, BrokenProbeAdapter(MockEngine(MockConfig(slots=4))))

    async with running_daemon(services_hook=add_broken) as daemon:
        task_id = (await daemon.submit(max_tokens=3)).json()["task_id"]
        assert (await daemon.wait_state(task_id, "succeeded", "failed"))["state"] == "succeeded"
        broken = daemon.services.replicas.get("broken")
        assert not broken.ready and broken.last_error == "RuntimeError while probing"
        await eventually(lambda: daemon.services.replicas.get("r0").ready, timeout_s=5.0)
