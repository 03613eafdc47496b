"""Fair dequeue: the 8:1 class weighting, tenant shares under a flood, and DRR's O(1) dequeue."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_core.errors import InvalidParams
from orchestrator_core.fairness import ClassScheduler, DeficitRoundRobin
from orchestrator_core.queue import PoolQueue, QueueConfig
from orchestrator_core.task import Priority
from tests.core.strategies import make_task

FAST = settings(max_examples=60, deadline=None, derandomize=True)


@pytest.mark.req("ORCH-2101", "ORCH-2102")
def test_default_weights_serve_eight_interactive_per_batch_when_both_wait() -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=1000))
    for _ in range(80):
        queue.enqueue(make_task("t", Priority.INTERACTIVE))
    for _ in range(10):
        queue.enqueue(make_task("t", Priority.BATCH))
    order = [queue.next_task(0.0).task for _ in range(90)]
    classes = "".join("I" if t is not None and t.priority is Priority.INTERACTIVE else "B" for t in order)
    assert classes == "IIIIIIIIB" * 10


@pytest.mark.req("ORCH-2102", "ORCH-9017")
@FAST
@given(
    weights=st.tuples(st.integers(1, 9), st.integers(1, 3)),
    waiting=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200),
)
def test_batch_is_served_at_least_once_every_interactive_weight_plus_one_dispatches(
    weights: tuple[int, int], waiting: list[tuple[bool, bool]]
) -> None:
    scheduler = ClassScheduler(*weights)
    since_batch = 0
    for interactive_waiting, batch_waiting in waiting:
        chosen = scheduler.choose(interactive_waiting, batch_waiting)
        if chosen is None:
            assert not interactive_waiting and not batch_waiting
            continue
        assert (chosen is Priority.INTERACTIVE and interactive_waiting) or (
            chosen is Priority.BATCH and batch_waiting
        )
        scheduler.record(chosen)
        if chosen is Priority.BATCH or not batch_waiting:
            since_batch = 0
        else:
            since_batch += 1
        assert since_batch <= weights[0]


@pytest.mark.req("ORCH-2103", "ORCH-9017")
@FAST
@given(
    flood_costs=st.lists(st.integers(1, 40), min_size=150, max_size=300),
    others=st.lists(st.lists(st.integers(1, 40), min_size=5, max_size=40), min_size=1, max_size=4),
    min_quantum=st.integers(1, 64),
)
def test_flooding_tenant_gets_no_more_than_its_token_share(
    flood_costs: list[int], others: list[list[int]], min_quantum: int
) -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=10_000, min_quantum_tokens=min_quantum))
    for cost in flood_costs:
        queue.enqueue(make_task("flood", cost=cost))
    queued = {"flood": len(flood_costs)}
    for index, costs in enumerate(others):
        for cost in costs:
            queue.enqueue(make_task(f"quiet-{index}", cost=cost))
        queued[f"quiet-{index}"] = len(costs)
    quantum = max(min_quantum, *flood_costs, *(c for costs in others for c in costs))
    served = dict.fromkeys(queued, 0)
    while all(queued.values()):
        task = queue.next_task(0.0).task
        assert task is not None
        served[task.tenant] += task.cost
        queued[task.tenant] -= 1
        # While every tenant stays backlogged, no two differ by more than 3 quanta.
        assert max(served.values()) - min(served.values()) <= 3 * quantum


@pytest.mark.req("ORCH-2103")
def test_tenants_inside_a_class_alternate_instead_of_fifo_across_tenants() -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=100, min_quantum_tokens=10))
    for _ in range(5):
        queue.enqueue(make_task("flood", cost=10))
    queue.enqueue(make_task("late", cost=10))
    tenants = [queue.next_task(0.0).task for _ in range(3)]
    assert [t.tenant for t in tenants if t is not None] == ["flood", "late", "flood"]


@pytest.mark.req("ORCH-2008", "ORCH-2103")
def test_drr_dequeue_looks_at_a_bounded_number_of_tenants_per_dispatch() -> None:
    drr = DeficitRoundRobin(min_quantum=1)
    lanes = {f"tenant-{i}": [1 + (i * j) % 37 for j in range(50)] for i in range(100)}
    for tenant, costs in lanes.items():
        for cost in costs:
            drr.activate(tenant, cost)
    calls = 0

    def head_cost(tenant: str) -> int | None:
        nonlocal calls
        calls += 1
        lane = lanes[tenant]
        return lane[0] if lane else None

    dispatched = 0
    while (chosen := drr.choose(head_cost)) is not None:
        lanes[chosen].pop(0)
        dispatched += 1
    assert dispatched == 100 * 50
    # Every turn dispatches at least one task, so lookups are O(1) per dispatch amortised.
    assert calls <= 3 * dispatched + 2 * len(lanes)


@pytest.mark.req("ORCH-2101")
def test_weights_and_quantum_below_one_are_refused() -> None:
    with pytest.raises(InvalidParams):
        ClassScheduler(0, 1)
    with pytest.raises(InvalidParams):
        DeficitRoundRobin(0)
    with pytest.raises(InvalidParams):
        QueueConfig(capacity=0)
