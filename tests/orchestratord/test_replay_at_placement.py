"""The task status carries the replay identity from the moment the task is placed (ORCH-1021)."""

from __future__ import annotations

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, read_stream, running_daemon

STARTED_FIELDS = (
    "seed",
    "sampler_profile_version",
    "engine",
    "engine_version",
    "model_digest",
    "pool_id",
    "replica_id",
)


@pytest.mark.req("ORCH-1021", "ORCH-1020")
async def test_a_running_task_before_its_first_token_reports_its_replay_identity() -> None:
    slow_first_token = [MockReplica(faults=Faults(ttft_ms=400))]
    async with running_daemon(slow_first_token) as daemon:
        queued = (await daemon.submit(max_tokens=2, seed=11)).json()["task_id"]
        running = await daemon.wait_state(queued, "running", "succeeded", "failed")
        _, events = await read_stream(daemon.client, queued)
        done = await daemon.wait_state(queued, "succeeded")
    assert running["state"] == "running" and running["tokens_out"] == 0
    replay = running["replay"]
    assert replay is not None, running
    started = next(event.data for event in events if event.event == "started")
    assert replay == {name: started[name] for name in STARTED_FIELDS}
    assert (replay["replica_id"], replay["pool_id"], replay["seed"]) == ("r0", "pool-a", 11)
    assert replay["model_digest"].startswith("sha256:")
    assert done["replay"] == replay


@pytest.mark.req("ORCH-1021")
async def test_a_queued_task_has_no_replay_identity() -> None:
    one_busy_slot = [MockReplica(slots=1, faults=Faults(ttft_ms=300))]
    async with running_daemon(one_busy_slot) as daemon:
        first = (await daemon.submit(max_tokens=1)).json()["task_id"]
        await daemon.wait_state(first, "running")
        second = (await daemon.submit(max_tokens=1)).json()["task_id"]
        waiting = (await daemon.client.get(f"/v1/tasks/{second}")).json()
        await daemon.wait_state(second, "succeeded")
    assert waiting["state"] == "queued" and waiting["replay"] is None
