"""The 202 answer and `GET /v1/tasks/{id}` report the core's fair-order position (ORCH-2206) and the predicted
start that counts the remaining time of running work (ORCH-2207), through the HTTP API."""

from __future__ import annotations

import time

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, running_daemon

# Default priors (ORCH-2205): 500 ms to the first token, 20 tokens/s per slot.
FIRST_TOKEN_MS = 500.0
TOKENS_PER_S = 20.0


def service_ms(tasks: int, tokens: int) -> float:
    return tasks * FIRST_TOKEN_MS + 1000.0 * tokens / TOKENS_PER_S


@pytest.mark.req("ORCH-2206", "ORCH-2207", "ORCH-1001", "ORCH-1020")
async def test_admission_and_status_report_the_fair_order_position_and_the_wait_for_running_work() -> None:
    async with running_daemon([MockReplica(slots=1, faults=Faults(token_delay_ms=100))]) as daemon:
        blocker = (await daemon.submit(prompt="blocker", max_tokens=40)).json()["task_id"]
        await daemon.wait_state(blocker, "running")
        started_at = daemon.services.registry.get(blocker).started_at
        assert started_at is not None

        before = time.time()
        first = await daemon.submit(prompt="a1", max_tokens=4)
        after = time.time()
        assert first.status_code == 202
        # Nothing queued, no slot free: the blocker's remaining time (40 tokens at the priors, minus the
        # time it has run) on the pool's one slot, not 0.
        remaining_hi = service_ms(1, 40) - 1000.0 * (before - started_at)
        remaining_lo = service_ms(1, 40) - 1000.0 * (after - started_at)
        assert first.json()["queue_position"] == 0
        assert remaining_lo - 1 <= first.json()["predicted_start_ms"] <= remaining_hi
        assert first.json()["predicted_start_ms"] > 0

        before = time.time()
        second = (await daemon.submit(prompt="a2", max_tokens=4)).json()
        after = time.time()
        # One task (4 tokens) ahead, plus the blocker's remaining time.
        assert second["queue_position"] == 1
        low = service_ms(1, 40) - 1000.0 * (after - started_at) + service_ms(1, 4)
        high = service_ms(1, 40) - 1000.0 * (before - started_at) + service_ms(1, 4)
        assert low - 1 <= second["predicted_start_ms"] <= high

        batch = (await daemon.submit(prompt="b1", max_tokens=4, priority="batch")).json()
        third = (await daemon.submit(prompt="a3", max_tokens=4)).json()
        # Weights 8:1 and the blocker already opened an interactive run: the batch arrival follows the two
        # interactive tasks; the third interactive one follows its own two and goes before the batch task.
        assert batch["queue_position"] == 2
        assert third["queue_position"] == 2

        statuses = {
            name: (await daemon.client.get(f"/v1/tasks/{task['task_id']}")).json()
            for name, task in (("a1", first.json()), ("a2", second), ("b1", batch), ("a3", third))
        }
        assert {name: s["state"] for name, s in statuses.items()} == dict.fromkeys(statuses, "queued")
        # The status is the core's answer for the queue as it is now: the later interactive arrival went
        # ahead of the batch task, so the batch task now has three tasks before it.
        positions = {name: s["queue_position"] for name, s in statuses.items()}
        assert positions == {"a1": 0, "a2": 1, "b1": 3, "a3": 2}
        blocker_status = (await daemon.client.get(f"/v1/tasks/{blocker}")).json()
        assert blocker_status["queue_position"] is None
