"""Quota state is freed exactly once per task, at its end, whatever mix of ends the tasks meet (ORCH-2306),
including a `finish` wrongly asked for a task that is still queued, which the scheduler refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from tests.core.scheduler_driver import OPS, TENANTS, Driver


@pytest.mark.req("ORCH-2306", "ORCH-2301", "ORCH-2307")
@settings(max_examples=500, deadline=None)
@given(OPS)
def test_every_tenants_concurrent_count_equals_its_live_tasks_after_any_mix_of_ends(
    ops: list[tuple[object, ...]],
) -> None:
    driver = Driver()
    for op in ops:
        driver.apply(op)
        for tenant in TENANTS:
            assert driver.quotas.in_flight(tenant) == driver.model.live(tenant), (tenant, op)
    freed = driver.quotas.freed
    for task_id in driver.model.admitted:
        assert freed[task_id] == (1 if task_id in driver.model.ended else 0), task_id
    # Ending everything still live brings every count to zero, each task freed once.
    for task_id in list(driver.model.running):
        driver.sched.finish(task_id, tokens_used=0, decode_ms=0.0)
    for pool in ("pool-a", "pool-b"):
        driver.sched.drain(pool)
    assert [driver.quotas.in_flight(t) for t in TENANTS] == [0, 0]
    assert all(freed[task_id] == 1 for task_id in driver.model.admitted)
