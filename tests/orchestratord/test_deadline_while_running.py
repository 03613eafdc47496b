"""A running task is never interrupted because its deadline passed; the end event reports the real
timings (ORCH-2204)."""

from __future__ import annotations

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon

SLOW = [MockReplica(slots=1, faults=Faults(token_delay_ms=30))]
# Optimistic priors, so that admission predicts the task finishes well within its deadline.
FAST_PRIORS = {"first_token_ms_prior": 1, "tokens_per_second_prior": 100_000.0}


@pytest.mark.req("ORCH-2204")
async def test_a_task_outliving_its_deadline_runs_to_its_end() -> None:
    async with running_daemon(SLOW, config=make_config(predictions=FAST_PRIORS)) as daemon:
        admitted = await daemon.submit(max_tokens=20, deadline_ms=200)
        assert admitted.status_code == 202, admitted.text
        task_id = admitted.json()["task_id"]
        _, events = await read_stream(daemon.client, task_id)
        status = await daemon.wait_state(task_id, "succeeded", "failed")

    assert status["state"] == "succeeded"
    end = events[-1]
    assert end.event == "end"
    assert (end.data["tokens_out"], end.data["stop_reason"]) == (20, "max_tokens")
    assert end.data["decode_time_ms"] > 200  # really ran past the deadline
    timings = status["timings"]
    assert timings["ended_at_ms"] - timings["admitted_at_ms"] > 200
