"""What the deficit round robin charges: a task's estimated cost once, per pool, never for a task that
was canceled or evicted, and not again for a re-queued task; the quantum covers the largest cost."""

from __future__ import annotations

import pytest

from orchestrator_core.fairness import DeficitRoundRobin
from orchestrator_core.queue import FullPolicy, PoolQueue, QueueConfig
from orchestrator_core.task import QueuedTask
from orchestratord.services.task_spec import TaskSpec
from tests.core.strategies import make_task

# Quantum 10 and tasks of cost 5: each tenant turn dispatches two tasks, so one wrongful charge of 5
# shortens a turn to one task and changes the order.
SMALL_QUANTUM = QueueConfig(capacity=100, min_quantum_tokens=10)


def tenants_in_order(queue: PoolQueue) -> list[str]:
    order = []
    while (task := queue.next_task(0.0).task) is not None:
        order.append(task.tenant)
    return order


def backlog(queue: PoolQueue, per_tenant: int = 4, cost: int = 5) -> None:
    for _ in range(per_tenant):
        for tenant in ("a", "b"):
            queue.enqueue(make_task(tenant, cost=cost, pool_id=queue.pool_id))


@pytest.mark.req("ORCH-2104")
def test_cost_is_expected_tokens_else_max_tokens_and_at_least_one() -> None:
    base = {"task_id": "t", "tenant": "x", "model_ref": "m", "fingerprint": "f"}
    assert TaskSpec(max_tokens=300, expected_tokens=40, **base).estimated_tokens == 40
    assert TaskSpec(max_tokens=300, **base).estimated_tokens == 300
    assert make_task(cost=0).cost == 1
    assert make_task(cost=77).cost == 77


@pytest.mark.req("ORCH-2104")
def test_quantum_is_the_larger_of_the_base_4096_and_the_largest_cost_seen() -> None:
    assert QueueConfig(capacity=1).min_quantum_tokens == 4096
    drr = DeficitRoundRobin(4096)
    assert drr.quantum == 4096
    drr.activate("a", 5000)
    drr.activate("b", 100)
    assert drr.quantum == 5000
    # Every turn dispatches at least one task, however large.
    queue = PoolQueue("pool-a", QueueConfig(capacity=10, min_quantum_tokens=4096))
    queue.enqueue(make_task("a", cost=9000))
    queue.enqueue(make_task("b", cost=9000))
    assert tenants_in_order(queue) == ["a", "b"]


@pytest.mark.req("ORCH-2105")
def test_a_canceled_task_is_never_charged() -> None:
    reference = PoolQueue("pool-a", SMALL_QUANTUM)
    backlog(reference)
    queue = PoolQueue("pool-a", SMALL_QUANTUM)
    canceled = make_task("a", cost=5)
    queue.enqueue(canceled)
    backlog(queue)
    queue.cancel(canceled.task_id)
    assert tenants_in_order(queue) == tenants_in_order(reference) == ["a", "a", "b", "b"] * 2


@pytest.mark.req("ORCH-2105")
def test_an_evicted_task_is_never_charged() -> None:
    reference = PoolQueue("pool-a", SMALL_QUANTUM)
    backlog(reference)
    full = QueueConfig(capacity=8, policy=FullPolicy.DROP_LRU, min_quantum_tokens=10)
    queue = PoolQueue("pool-a", full)
    victim = make_task("a", cost=5)  # no batch task waits: the oldest interactive one is evicted
    queue.enqueue(victim)
    backlog(queue)  # the eighth arrival evicts the oldest batch task
    assert victim.task_id not in queue
    assert tenants_in_order(queue) == tenants_in_order(reference)


@pytest.mark.req("ORCH-2105")
def test_a_requeued_task_is_not_charged_twice() -> None:
    reference = PoolQueue("pool-a", SMALL_QUANTUM)
    backlog(reference)
    queue = PoolQueue("pool-a", SMALL_QUANTUM)
    backlog(queue)
    first = reference.next_task(0.0).task
    dispatched = queue.next_task(0.0).task
    assert first is not None and dispatched is not None
    queue.requeue_front(dispatched)
    again: QueuedTask | None = queue.next_task(0.0).task
    assert again is dispatched
    assert tenants_in_order(queue) == tenants_in_order(reference)


@pytest.mark.req("ORCH-2105")
def test_each_pool_keeps_its_own_fairness_state() -> None:
    alone = PoolQueue("pool-b", SMALL_QUANTUM)
    backlog(alone)
    left, right = PoolQueue("pool-a", SMALL_QUANTUM), PoolQueue("pool-b", SMALL_QUANTUM)
    backlog(left, cost=3)
    backlog(right)
    interleaved = []
    while (task := right.next_task(0.0).task) is not None:
        interleaved.append(task.tenant)
        left.next_task(0.0)
    assert interleaved == tenants_in_order(alone)
