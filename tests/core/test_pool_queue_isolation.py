"""A task stays in the queue of the pool it was admitted to; a re-queue puts it back there (ORCH-2012)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from orchestrator_core.predictions import ServiceRate
from orchestrator_core.queue import QueueConfig
from tests.core.scheduler import Scheduler
from tests.core.scheduler_driver import OPS, POOLS, Driver
from tests.core.strategies import make_task

RATE = ServiceRate(tokens_per_s=100.0, first_token_ms=0.0, slots=1)


@pytest.mark.req("ORCH-2012")
@settings(max_examples=500, deadline=None)
@given(OPS)
def test_tasks_only_ever_leave_the_queue_of_the_pool_they_were_admitted_to(
    ops: list[tuple[object, ...]],
) -> None:
    driver = Driver()
    for op in ops:
        driver.apply(op)  # the driver fails on a dispatch or expiry from a pool the task was not queued in
        for task_id, pool in driver.model.queued_in.items():
            assert driver.sched.pool_of(task_id) == pool
            assert [task_id in driver.sched.queue(p) for p in POOLS] == [p == pool for p in POOLS]
    for pool, task in driver.model.dispatched_from:
        assert task.pool_id == pool == driver.model.admitted[task.task_id].pool_id


@pytest.mark.req("ORCH-2012", "ORCH-4002")
def test_a_requeued_task_returns_to_its_own_pool_even_when_another_pool_is_idle() -> None:
    sched = Scheduler({"pool-a": QueueConfig(4), "pool-b": QueueConfig(4)})
    waiting, moved = make_task(pool_id="pool-a"), make_task(pool_id="pool-a")
    for task in (moved, waiting):
        sched.admit(task, rate=RATE, slots_free=0, now_ms=0.0)
    assert sched.next_task("pool-a", 0.0).task == moved
    sched.requeue_front(moved, rate=RATE)
    assert sched.pool_of(moved.task_id) == "pool-a"
    assert moved.task_id in sched.queue("pool-a") and moved.task_id not in sched.queue("pool-b")
    assert sched.next_task("pool-b", 0.0).task is None
    assert sched.next_task("pool-a", 0.0).task == moved
