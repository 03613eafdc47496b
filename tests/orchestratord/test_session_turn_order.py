"""Turns of one session run one at a time, in admission order, even when a slot is free (ORCH-4008); a
turn waiting for its previous one does not hold back other tasks of the pool (ORCH-4006)."""

from __future__ import annotations

import uuid

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, eventually, running_daemon

SLOW_THREE_SLOTS = [MockReplica(slots=3, faults=Faults(token_delay_ms=40))]


@pytest.mark.req("ORCH-4008", "ORCH-4006")
async def test_second_turn_waits_for_the_first_while_other_tasks_run() -> None:
    session_id = str(uuid.uuid4())
    async with running_daemon(SLOW_THREE_SLOTS) as daemon:
        first = (await daemon.submit(session_id=session_id, max_tokens=8)).json()["task_id"]
        second = (await daemon.submit(session_id=session_id, max_tokens=2)).json()["task_id"]
        other = (await daemon.submit(max_tokens=2)).json()["task_id"]

        await daemon.wait_state(first, "running")
        # The unrelated task gets a free slot and finishes while the session's second turn still waits.
        await daemon.wait_state(other, "succeeded")
        waiting = (await daemon.client.get(f"/v1/tasks/{second}")).json()
        assert waiting["state"] == "queued"
        assert (await daemon.client.get(f"/v1/tasks/{first}")).json()["state"] == "running"

        done_first = await daemon.wait_state(first, "succeeded")
        done_second = await daemon.wait_state(second, "succeeded")
        assert done_second["timings"]["started_at_ms"] >= done_first["timings"]["ended_at_ms"]


@pytest.mark.req("ORCH-4006")
async def test_a_pinned_task_busy_on_its_replica_does_not_block_the_pool() -> None:
    replicas = [
        MockReplica(replica_id="pool-a-r0", slots=1, faults=Faults(token_delay_ms=40)),
        MockReplica(replica_id="pool-a-r1", slots=1, faults=Faults(token_delay_ms=40)),
    ]
    pin = {"mode": "pin", "pin_pool_id": "pool-a", "pin_replica_id": "pool-a-r0"}
    async with running_daemon(replicas) as daemon:
        await eventually(lambda: all(r.ready for r in daemon.services.replicas.all()))
        first = (await daemon.submit(placement=pin, max_tokens=20)).json()["task_id"]
        await daemon.wait_state(first, "running")
        pinned = (await daemon.submit(placement=pin, max_tokens=2)).json()["task_id"]
        free = (await daemon.submit(max_tokens=2)).json()["task_id"]

        done = await daemon.wait_state(free, "succeeded")
        assert done["replay"]["replica_id"] == "pool-a-r1"
        assert (await daemon.client.get(f"/v1/tasks/{pinned}")).json()["state"] == "queued"
        finished = await daemon.wait_state(pinned, "succeeded")
        assert finished["replay"]["replica_id"] == "pool-a-r0"
