"""Graceful shutdown: 503 for new work, queued tasks end with a typed error, running ones finish in time."""

from __future__ import annotations

import asyncio

import pytest

from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon
from worker_adapters.mock.faults import Faults

ONE_SLOW_SLOT = [MockReplica(slots=1, faults=Faults(token_delay_ms=20))]


@pytest.mark.req("ORCH-4004")
async def test_shutdown_refuses_new_work_ends_queued_and_lets_running_finish() -> None:
    config = make_config(shutdown_grace_ms=3_000)
    async with running_daemon(ONE_SLOW_SLOT, config=config) as daemon:
        running = (await daemon.submit(max_tokens=10)).json()["task_id"]
        await daemon.wait_state(running, "running")
        queued = (await daemon.submit(max_tokens=10)).json()["task_id"]
        shutdown = asyncio.create_task(daemon.services.shutdown.shutdown())
        await asyncio.sleep(0.01)
        refused = await daemon.submit()
        assert refused.status_code == 503 and refused.json()["code"] == "POOL_UNAVAILABLE"
        assert (await daemon.client.get("/readyz")).status_code == 503
        ended = await daemon.wait_state(queued, "failed")
        assert ended["error"]["code"] == "POOL_UNAVAILABLE"
        await shutdown
        assert (await daemon.client.get(f"/v1/tasks/{running}")).json()["state"] == "succeeded"


@pytest.mark.req("ORCH-4004", "ORCH-4003")
async def test_running_tasks_past_the_deadline_end_with_a_typed_error_and_free_their_slot() -> None:
    config = make_config(shutdown_grace_ms=100)
    async with running_daemon(ONE_SLOW_SLOT, config=config) as daemon:
        running = (await daemon.submit(max_tokens=1000)).json()["task_id"]
        await daemon.wait_state(running, "running")
        await daemon.services.shutdown.shutdown()
        _, events = await read_stream(daemon.client, running)
        assert events[-1].event == "error" and events[-1].data["code"] == "POOL_UNAVAILABLE"
        assert await daemon.engines["r0"].wait_idle(1.0)
        assert daemon.free_slots() == daemon.total_slots()
