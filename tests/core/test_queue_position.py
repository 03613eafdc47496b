"""`queue_position` is the number of tasks the real fair order dispatches before the task when nothing arrives
(ORCH-2206): proven by building random queues (tenants, both classes, re-queued tasks, cancels, dequeues that
leave deficits and class runs half-used, random weights and quanta), predicting, then draining the queue."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_core.errors import AdmissionReject, Conflict, NotFound
from orchestrator_core.fairness import ClassScheduler
from orchestrator_core.queue import Ahead, FullPolicy, PoolQueue, QueueConfig
from orchestrator_core.task import Priority, QueuedTask
from tests.core.strategies import make_task

TENANTS = ("t1", "t2", "t3", "t4")

CONFIGS = st.builds(
    QueueConfig,
    capacity=st.integers(4, 40),
    policy=st.sampled_from(FullPolicy),
    interactive_weight=st.integers(1, 8),
    batch_weight=st.integers(1, 4),
    min_quantum_tokens=st.integers(1, 64),
)
ARRIVALS = st.tuples(st.sampled_from(TENANTS), st.sampled_from(Priority), st.integers(1, 50))
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("enqueue"), ARRIVALS),
        st.tuples(st.just("dequeue"), st.integers(0, 1)),
        st.tuples(st.just("cancel"), st.integers(0, 1000)),
        st.tuples(st.just("requeue"), st.integers(0, 1000)),
    ),
    max_size=80,
)


@dataclass
class Built:
    queue: PoolQueue
    queued: list[QueuedTask]


def build(config: QueueConfig, ops: list[tuple[object, ...]]) -> Built:
    """A queue after `ops`; dequeued tasks may come back through the requeue lane."""
    queue = PoolQueue("pool-a", config)
    dispatched: list[QueuedTask] = []
    for kind, arg in ops:
        if kind == "enqueue":
            tenant, priority, cost = arg  # type: ignore[misc]
            try:
                queue.enqueue(make_task(tenant, priority, cost=cost))
            except AdmissionReject:
                pass
        elif kind == "dequeue":
            task = queue.next_task(0.0).task
            if task is not None:
                dispatched.append(task)
        elif kind == "cancel" and len(queue):
            ids = [t.task_id for t in drain_order(copy.deepcopy(queue))]
            queue.cancel(ids[int(arg) % len(ids)])  # type: ignore[call-overload]
        elif kind == "requeue" and dispatched:
            task = dispatched.pop(int(arg) % len(dispatched))  # type: ignore[call-overload]
            try:
                queue.requeue_front(task)
            except AdmissionReject:
                pass
    return Built(queue, drain_order(copy.deepcopy(queue)))


def drain_order(queue: PoolQueue) -> list[QueuedTask]:
    """The real dispatch order of everything queued, with no arrivals."""
    order = []
    while (task := queue.next_task(0.0).task) is not None:
        order.append(task)
    return order


def expected_ahead(queue: PoolQueue, order: list[QueuedTask], target: QueuedTask) -> Ahead:
    """Position from the real drain; tokens per the spec: the task's own class and re-queued tasks exactly,
    the other class at its mean queued cost."""
    before = order[: order.index(target)]
    front = {t.task_id for t in order[: queue.requeued_depth()]}
    other = [t for t in order if t.priority is not target.priority and t.task_id not in front]
    exact = sum(t.cost for t in before if t.priority is target.priority or t.task_id in front)
    crossing = sum(1 for t in before if t.priority is not target.priority and t.task_id not in front)
    mean = sum(t.cost for t in other) / len(other) if other else 0.0
    return Ahead(len(before), exact + crossing * mean)


@pytest.mark.req("ORCH-2206")
@settings(max_examples=400, deadline=None)
@given(CONFIGS, OPS, st.integers(0, 1000))
def test_the_position_of_a_queued_task_is_how_many_tasks_the_fair_order_dispatches_before_it(
    config: QueueConfig, ops: list[tuple[object, ...]], pick: int
) -> None:
    built = build(config, ops)
    if not built.queued:
        return
    target = built.queued[pick % len(built.queued)]
    ahead = built.queue.ahead_of(target.task_id)
    expected = expected_ahead(built.queue, built.queued, target)
    assert ahead.tasks == expected.tasks
    assert ahead.tokens == pytest.approx(expected.tokens)
    assert drain_order(built.queue) == built.queued  # predicting changed nothing


@pytest.mark.req("ORCH-2206")
@settings(max_examples=400, deadline=None)
@given(CONFIGS, OPS, ARRIVALS)
def test_the_position_predicted_for_an_arrival_is_where_the_fair_order_dispatches_it(
    config: QueueConfig, ops: list[tuple[object, ...]], arrival: tuple[str, Priority, int]
) -> None:
    built = build(config, ops)
    tenant, priority, cost = arrival
    task = make_task(tenant, priority, cost=cost)
    untouched = copy.deepcopy(built.queue)
    ahead = built.queue.ahead_if_enqueued(task)
    try:
        evicted = built.queue.enqueue(task)
        untouched.enqueue(task)
    except AdmissionReject:
        return
    assert drain_order(copy.deepcopy(untouched)) == drain_order(copy.deepcopy(built.queue))
    order = drain_order(copy.deepcopy(built.queue))
    assert evicted not in order
    expected = expected_ahead(built.queue, order, order[order.index(task)])
    assert ahead.tasks == expected.tasks
    assert ahead.tokens == pytest.approx(expected.tokens)


@pytest.mark.req("ORCH-2206", "ORCH-2101")
def test_both_classes_waiting_count_one_batch_round_per_interactive_run_not_one_more() -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=100))
    interactive = [make_task("a", cost=10) for _ in range(8)]
    batch = [make_task("b", Priority.BATCH, cost=10) for _ in range(3)]
    for task in (*interactive, *batch):
        queue.enqueue(task)
    # Weights 8:1 from a fresh scheduler: eight interactive, then one batch, then the next interactive.
    assert queue.ahead_of(interactive[7].task_id).tasks == 7
    assert queue.ahead_of(batch[0].task_id).tasks == 8
    assert queue.ahead_if_enqueued(make_task("a", cost=10)).tasks == 8 + 1
    assert queue.ahead_if_enqueued(make_task("b", Priority.BATCH, cost=10)).tasks == 3 + 8


@pytest.mark.req("ORCH-2206")
def test_a_new_tenant_waits_for_one_turn_of_each_backlogged_tenant_not_for_the_flood() -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=1000, min_quantum_tokens=100))
    for _ in range(50):
        queue.enqueue(make_task("flood", cost=10))
    # One quantum (100 tokens) of the flood goes before the newcomer's turn: ten tasks.
    ahead = queue.ahead_if_enqueued(make_task("newcomer", cost=10))
    assert ahead == Ahead(10, 100.0)


@pytest.mark.req("ORCH-2206")
def test_asking_the_position_of_a_task_that_is_not_queued_is_a_typed_error() -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=10))
    queued = make_task()
    queue.enqueue(queued)
    with pytest.raises(NotFound):
        queue.ahead_of("missing")
    with pytest.raises(Conflict):
        queue.ahead_if_enqueued(queued)


@pytest.mark.req("ORCH-2206", "ORCH-2101")
@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 8),
    st.integers(1, 8),
    st.lists(st.sampled_from(Priority), max_size=12),
    st.sampled_from(Priority),
    st.integers(0, 30),
    st.integers(0, 30),
)
def test_class_interleaving_formula_matches_stepping_the_class_scheduler(
    w_i: int, w_b: int, history: list[Priority], mine: Priority, own_before: int, others: int
) -> None:
    scheduler = ClassScheduler(w_i, w_b)
    other = Priority.BATCH if mine is Priority.INTERACTIVE else Priority.INTERACTIVE
    for priority in history:
        scheduler.record(priority)
    predicted = scheduler.others_before(mine, own_before, others)
    stepped, own_left, others_left = 0, own_before, others
    while True:
        waiting = {mine: True, other: others_left > 0}
        chosen = scheduler.choose(waiting[Priority.INTERACTIVE], waiting[Priority.BATCH])
        assert chosen is not None
        scheduler.record(chosen)
        if chosen is mine:
            if own_left == 0:
                break
            own_left -= 1
        else:
            stepped += 1
            others_left -= 1
    assert predicted == stepped
