"""The shared mode when an instance stops or stalls, with real processes: a shutting-down instance leaves
its queued tasks to the others, and a run whose slot lease lapsed while its instance was paused ends with
WORKER_RESET while another instance used the slot (ORCH-4110)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from test_harness.cluster import cluster
from tests.redis_state.test_cluster import admitted, read_events, started_here, status, tokens, wait_for
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(120)]


@pytest.mark.req("ORCH-4110")
def test_a_shutting_down_instance_leaves_its_queued_tasks_to_the_other(redis_process: RedisServer) -> None:
    with cluster(redis_process.url, instances=2, engines=1, slots=1, token_delay_ms=20) as running:
        first = admitted(running, 0, max_tokens=40)
        wait_for(lambda: status(running, 0, first)["state"] == "running")
        queued = [admitted(running, 0, max_tokens=5) for _ in range(4)]
        assert running.instances[0].stop() == 0
        ends = [read_events(running, 1, task_id)[-1] for task_id in queued]
        assert all(kind == "end" and end["stop_reason"] == "max_tokens" for kind, end in ends), ends
        assert set(queued) <= started_here(running, 1)


@pytest.mark.req("ORCH-4110", "ORCH-4105")
def test_a_run_whose_lease_lapsed_while_its_instance_was_paused_ends_with_worker_reset(
    redis_process: RedisServer,
) -> None:
    with cluster(redis_process.url, instances=2, engines=1, slots=1, token_delay_ms=20) as running:
        long = admitted(running, 0, max_tokens=2_000)
        wait_for(lambda: long in started_here(running, 0) | started_here(running, 1))
        holder = 0 if long in started_here(running, 0) else 1
        other = 1 - holder
        process = running.instances[holder].process
        assert process is not None
        os.kill(process.pid, signal.SIGSTOP)
        try:
            time.sleep(2.5)  # past the 1.5 s lease TTL: the slot is no longer the paused instance's
        finally:
            os.kill(process.pid, signal.SIGCONT)
        events = read_events(running, other, long)
        kind, error = events[-1]
        assert kind == "error" and error["code"] == "WORKER_RESET", events[-1]
        assert len(tokens(events)) < 2_000
        # The slot is usable again, through either instance.
        short = admitted(running, other, max_tokens=5)
        kind, end = read_events(running, holder, short)[-1]
        assert kind == "end" and end["stop_reason"] == "max_tokens", end
