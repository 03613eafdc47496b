"""Slot leases never leak: after any mix of cancels, failures and timeouts, free slots return to the total."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, eventually, make_config, running_daemon

faults = st.builds(
    Faults,
    token_delay_ms=st.sampled_from([0.0, 2.0]),
    fail_at=st.none() | st.integers(0, 4),
    stall_at=st.none() | st.integers(0, 4),
    eos_at=st.none() | st.integers(1, 6),
)
tasks = st.lists(
    st.tuples(st.integers(1, 8), st.none() | st.floats(0.0, 0.03)),  # (max_tokens, cancel after s)
    min_size=1,
    max_size=8,
)


async def scenario(replica_faults: list[Faults], plan: list[tuple[int, float | None]]) -> None:
    replicas = [MockReplica(f"r{i}", slots=2, faults=f) for i, f in enumerate(replica_faults)]
    config = make_config(timeouts={"decode_idle_ms": 60}, queues={"defaults": {"capacity": 16}})
    async with running_daemon(replicas, config=config) as daemon:
        ids = []
        for max_tokens, _ in plan:
            response = await daemon.submit(max_tokens=max_tokens)
            assert response.status_code == 202, response.text
            ids.append(response.json()["task_id"])

        async def cancel_later(task_id: str, delay: float) -> None:
            await asyncio.sleep(delay)
            assert (await daemon.client.post(f"/v1/tasks/{task_id}/cancel")).status_code == 204

        await asyncio.gather(
            *(cancel_later(t, d) for t, (_, d) in zip(ids, plan, strict=True) if d is not None)
        )
        for task_id in ids:
            await daemon.wait_state(task_id, "succeeded", "failed", "canceled")
        # A leak never heals, so generous waits only absorb a loaded machine, they hide nothing.
        try:
            await eventually(lambda: daemon.free_slots() == daemon.total_slots(), 5.0)
        except TimeoutError:
            pytest.fail(f"leaked slots: free {daemon.free_slots()} of {daemon.total_slots()}")
        for replica_id, engine in daemon.engines.items():
            assert await engine.wait_idle(5.0), f"engine {replica_id} still has {engine.active} requests"
        # Every admitted task reached exactly one terminal outcome with a terminal event.
        for task_id in ids:
            record = daemon.services.registry.get(task_id)
            assert record.transcript.closed
            frames = record.transcript.frames()
            assert frames.count(b"event: end\n") + frames.count(b"event: error\n") == 1


@pytest.mark.req("ORCH-4003", "ORCH-2009")
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(replica_faults=st.lists(faults, min_size=1, max_size=2), plan=tasks)
def test_slot_leases_never_leak_under_cancels_faults_and_timeouts(
    replica_faults: list[Faults], plan: list[tuple[int, float | None]]
) -> None:
    asyncio.run(scenario(replica_faults, plan))
