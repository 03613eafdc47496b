"""Predictions from queue state and EWMA throughput; deadline refusal at admission and expiry in queue."""

from __future__ import annotations

import math

import pytest

from orchestrator_core.deadlines import check_admission, deadline_at, expired_error, is_expired
from orchestrator_core.errors import DeadlineUnmet, InvalidParams
from orchestrator_core.predictions import (
    Ahead,
    Ewma,
    Prediction,
    Running,
    ServiceRate,
    ThroughputModel,
    on_time_probability,
    predict,
    predicted_start_ms,
    running_ms,
)
from orchestrator_core.queue import PoolQueue, QueueConfig
from orchestrator_core.task import Priority
from tests.core.strategies import make_task


@pytest.mark.req("ORCH-2203")
def test_ewma_follows_samples_with_the_configured_weight() -> None:
    series = Ewma(0.5, initial=100.0)
    series.update(40.0)
    assert series.mean == 40.0  # the first sample replaces the prior
    series.update(60.0)
    assert series.mean == 50.0
    series.update(float("nan"))
    assert series.mean == 50.0 and series.samples == 2
    assert series.variance == pytest.approx(0.5 * (0.5 * 20.0**2))
    with pytest.raises(InvalidParams):
        Ewma(0.0, 1.0)


@pytest.mark.req("ORCH-2203")
def test_throughput_model_learns_per_replica_and_aggregates_by_slots() -> None:
    model = ThroughputModel(alpha=0.5, prior_tokens_per_s=50.0, prior_first_token_ms=200.0)
    model.observe("r1", tokens_out=100, decode_ms=1000.0, first_token_ms=80.0)  # 100 tok/s
    model.observe("r1", tokens_out=300, decode_ms=1000.0, first_token_ms=120.0)  # 300 tok/s
    assert model.tokens_per_s("r1") == 200.0
    assert model.first_token_ms("r1") == 100.0
    assert model.tokens_per_s("r2") == 50.0  # prior
    rate = model.pool_rate({"r1": 1, "r2": 3})
    assert rate.slots == 4
    assert rate.tokens_per_s == (200.0 + 3 * 50.0) / 4
    assert rate.first_token_ms == (100.0 + 3 * 200.0) / 4
    model.forget("r1")
    assert model.tokens_per_s("r1") == 50.0


@pytest.mark.req("ORCH-2207", "ORCH-2203")
def test_predicted_start_is_zero_with_a_free_slot_else_the_remaining_work_shared_over_the_slots() -> None:
    # Pool: 2 slots, 100 tokens/s per slot, 50 ms first token. Every figure below is the spec formula
    # worked by hand: service of n tasks and k tokens = n * 50 + 1000 * k / 100 ms.
    rate = ServiceRate(tokens_per_s=100.0, first_token_ms=50.0, slots=2, cv=0.2)

    def start(ahead: Ahead, slots_free: int, running: list[Running]) -> float:
        remaining = running_ms(rate, running)
        return predict(
            ahead, tokens=100, rate=rate, slots_free=slots_free, running=remaining, deadline_in_ms=None
        ).predicted_start_ms

    # Fewer tasks ahead than free slots: a slot is left for the task.
    assert start(Ahead(0, 0), 2, []) == 0.0
    assert start(Ahead(1, 100), 2, [Running(100, 0.0)]) == 0.0
    # As many ahead as free slots: both slots take the tasks ahead (2 * 50 + 2000 ms of work), no running.
    assert start(Ahead(2, 200), 2, []) == (2 * 50 + 1000 * 200 / 100) / 2
    # Busy pool, empty queue: the running tasks' remaining time. One started 300 ms ago with 100 tokens
    # (1050 ms of service, 750 left); one is past its 2050 ms service (0 left, never negative).
    busy = [Running(100, 300.0), Running(200, 2500.0)]
    assert start(Ahead(0, 0), 0, busy) == (750 + 0) / 2
    # Busy pool with 4 tasks (400 tokens) ahead: remaining plus 4 * 50 + 4000 ms, over 2 slots.
    assert start(Ahead(4, 400), 0, busy) == (750 + 4 * 50 + 1000 * 400 / 100) / 2
    # No ready replica: the work is not divided by zero slots but counted for one.
    idle_pool = ServiceRate(tokens_per_s=100.0, first_token_ms=50.0, slots=0)
    assert predicted_start_ms(Ahead(1, 10), rate=idle_pool, slots_free=0, running=0.0) == 50 + 100
    decode = predict(Ahead(0, 0), tokens=100, rate=rate, slots_free=2, running=0.0, deadline_in_ms=None)
    assert decode == Prediction(0, 0.0, 50 + 1000.0, 1.0)


@pytest.mark.req("ORCH-2203")
def test_on_time_probability_is_a_normal_tail() -> None:
    assert on_time_probability(1000.0, 0.25, None) == 1.0
    assert on_time_probability(1000.0, 0.25, 1000.0) == pytest.approx(0.5)
    z = (1500.0 - 1000.0) / 250.0
    assert on_time_probability(1000.0, 0.25, 1500.0) == pytest.approx(0.5 * (1 + math.erf(z / math.sqrt(2))))
    assert on_time_probability(1000.0, 0.0, 999.0) == 0.0


@pytest.mark.req("ORCH-2206", "ORCH-2103")
def test_position_follows_fair_order_not_fifo() -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=100))
    for _ in range(20):
        queue.enqueue(make_task("flood", cost=10))
    queue.enqueue(make_task("other", cost=10))
    for _ in range(3):
        queue.enqueue(make_task("flood", Priority.BATCH, cost=10))
    # The quantum (4096 tokens) covers all 200 flood tokens, so the whole flood goes in its first turn,
    # then the other tenant's task: 21 interactive tasks ahead of a newcomer, and, by the 8:1 weights,
    # two batch tasks (one after the 8th and one after the 16th interactive dispatch).
    newcomer = queue.ahead_if_enqueued(make_task("newcomer", cost=10))
    assert newcomer == Ahead(21 + 2, 210 + 20)
    # A batch arrival is the 4th batch dispatch, which would follow the 32nd interactive one (8, then 8
    # more after each batch): all 24 queued tasks are ahead of it.
    assert queue.ahead_if_enqueued(make_task("x", Priority.BATCH, cost=10)) == Ahead(24, 240)


@pytest.mark.req("ORCH-2201")
def test_admission_refuses_a_task_whose_predicted_start_plus_decode_exceeds_the_deadline() -> None:
    task = make_task(deadline_at_ms=1_000.0 + 500.0)
    check_admission(task, Prediction(0, 100.0, 400.0, 0.5), now_ms=1_000.0)  # exactly in time
    with pytest.raises(DeadlineUnmet, match="exceeds deadline_ms 500"):
        check_admission(task, Prediction(3, 100.0, 401.0, 0.4), now_ms=1_000.0)
    check_admission(make_task(), Prediction(9, 1e9, 1e9, 0.0), now_ms=0.0)  # no deadline


@pytest.mark.req("ORCH-2201", "ORCH-2202")
def test_deadline_helpers() -> None:
    assert deadline_at(1_000.0, 250) == 1_250.0
    assert deadline_at(1_000.0, None) is None
    for bad in (0, -5, True):
        with pytest.raises(InvalidParams, match="deadline_ms"):
            deadline_at(0.0, bad)
    task = make_task(deadline_at_ms=10.0)
    assert not is_expired(task, 9.9) and is_expired(task, 10.0)
    assert expired_error(task).code == "DEADLINE_UNMET"


@pytest.mark.req("ORCH-2202")
def test_a_task_expiring_anywhere_in_the_queue_leaves_it_on_the_next_dequeue() -> None:
    queue = PoolQueue("pool-a", QueueConfig(capacity=10))
    first = make_task("a")
    late = make_task("a", deadline_at_ms=50.0)
    early = make_task("b", Priority.BATCH, deadline_at_ms=20.0)
    for task in (first, late, early):
        queue.enqueue(task)
    out = queue.next_task(60.0)
    assert out.task == first
    assert out.expired == (early, late)
    assert len(queue) == 0
