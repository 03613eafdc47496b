"""POST /v1/tasks/{id}/cancel for queued and running tasks: 204, idempotent, no token after the ack,
engine slot freed within 1 s."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import Daemon, MockReplica, eventually, read_stream, running_daemon

SLOW = [MockReplica(slots=1, faults=Faults(token_delay_ms=20))]


@pytest.mark.req("ORCH-1030")
async def test_cancel_unknown_task_is_404_and_finished_task_is_204(daemon: Daemon) -> None:
    unknown = await daemon.client.post(f"/v1/tasks/{uuid.uuid4()}/cancel")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    task_id = (await daemon.submit(max_tokens=2)).json()["task_id"]
    await daemon.wait_state(task_id, "succeeded")
    assert (await daemon.client.post(f"/v1/tasks/{task_id}/cancel")).status_code == 204
    assert (await daemon.client.get(f"/v1/tasks/{task_id}")).json()["state"] == "succeeded"


@pytest.mark.req("ORCH-1030", "ORCH-1031", "ORCH-2007")
async def test_cancel_of_a_queued_task_removes_it_from_the_queue() -> None:
    async with running_daemon(SLOW) as daemon:
        blocker = (await daemon.submit(max_tokens=50)).json()["task_id"]
        await daemon.wait_state(blocker, "running")
        queued = (await daemon.submit(max_tokens=5)).json()["task_id"]
        assert len(daemon.services.queues.get("pool-a")) == 1
        assert (await daemon.client.post(f"/v1/tasks/{queued}/cancel")).status_code == 204
        assert (await daemon.client.post(f"/v1/tasks/{queued}/cancel")).status_code == 204
        assert len(daemon.services.queues.get("pool-a")) == 0
        _, events = await read_stream(daemon.client, queued)
        assert [e.event for e in events] == ["end"]
        assert events[0].data["stop_reason"] == "canceled"
        assert (await daemon.client.get(f"/v1/tasks/{queued}")).json()["state"] == "canceled"


@pytest.mark.req("ORCH-1030", "ORCH-1031")
async def test_cancel_of_a_running_task_stops_tokens_and_frees_the_engine_slot_within_1s() -> None:
    async with running_daemon(SLOW) as daemon:
        task_id = (await daemon.submit(max_tokens=500)).json()["task_id"]
        reader = asyncio.create_task(read_stream(daemon.client, task_id))
        record = daemon.services.registry.get(task_id)
        await eventually(lambda: record.tokens_out >= 3)
        engine = daemon.engines["r0"]
        assert engine.active == 1
        response = await daemon.client.post(f"/v1/tasks/{task_id}/cancel")
        acknowledged_tokens = record.tokens_out
        assert response.status_code == 204
        began = time.monotonic()
        assert await engine.wait_idle(1.0)
        assert time.monotonic() - began < 1.0
        _, events = await reader
        tokens = [e for e in events if e.event == "token"]
        assert len(tokens) == acknowledged_tokens
        assert events[-1].event == "end" and events[-1].data["stop_reason"] == "canceled"
        assert daemon.free_slots() == daemon.total_slots()
