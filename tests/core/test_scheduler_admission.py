"""The scheduling facade: refusals change nothing, every end frees quota and budget exactly once."""

from __future__ import annotations

import pytest

from orchestrator_core.budgets import BudgetLimits, SessionBudgets
from orchestrator_core.errors import (
    AdmissionReject,
    Conflict,
    DeadlineUnmet,
    InvalidParams,
    PoolUnavailable,
    QuotaExceeded,
)
from orchestrator_core.predictions import ServiceRate
from orchestrator_core.queue import FullPolicy, QueueConfig
from orchestrator_core.quotas import TenantLimits, TenantQuotas
from orchestrator_core.task import Priority
from tests.core.scheduler import Scheduler
from tests.core.strategies import make_task

RATE = ServiceRate(tokens_per_s=100.0, first_token_ms=100.0, slots=1)


def scheduler(
    capacity: int = 2, policy: FullPolicy = FullPolicy.REJECT, max_concurrent: int = 10
) -> Scheduler:
    quotas = TenantQuotas(TenantLimits(max_concurrent=max_concurrent, tokens_per_minute=60_000))
    budgets = SessionBudgets()
    budgets.open("s", BudgetLimits(tokens=100))
    return Scheduler({"pool-a": QueueConfig(capacity, policy)}, quotas=quotas, budgets=budgets)


@pytest.mark.req("ORCH-1001", "ORCH-2203")
def test_admission_answers_position_and_predicted_start() -> None:
    sched = scheduler(capacity=5)
    first = sched.admit(make_task(cost=100), rate=RATE, slots_free=0, now_ms=0.0)
    second = sched.admit(make_task(cost=100), rate=RATE, slots_free=0, now_ms=0.0)
    assert (first.prediction.queue_position, second.prediction.queue_position) == (0, 1)
    assert second.prediction.predicted_start_ms == 100.0 + 1000.0
    assert second.prediction.predicted_decode_ms == 1100.0
    assert sched.quotas.in_flight("t1") == 2


@pytest.mark.req("ORCH-2003", "ORCH-1204")
def test_a_rejected_task_changes_nothing_and_carries_a_computed_retry_after() -> None:
    sched = scheduler(capacity=1)
    sched.admit(make_task(cost=50), rate=RATE, slots_free=0, now_ms=0.0)
    with pytest.raises(AdmissionReject) as refused:
        sched.admit(make_task(cost=50), rate=RATE, slots_free=0, now_ms=0.0)
    assert refused.value.policy_label == "reject"
    assert refused.value.retry_after_ms == 100 + 500  # one task's service time on the pool's one slot
    assert sched.quotas.in_flight("t1") == 1
    assert len(sched.queue("pool-a")) == 1


@pytest.mark.req("ORCH-2004", "ORCH-2009")
def test_an_evicted_task_is_returned_and_its_quota_and_budget_are_freed() -> None:
    sched = scheduler(capacity=1, policy=FullPolicy.DROP_LRU)
    old = make_task(session_id="s", cost=60)
    sched.admit(old, rate=RATE, slots_free=0, now_ms=0.0)
    admitted = sched.admit(make_task(cost=10), rate=RATE, slots_free=0, now_ms=0.0)
    assert admitted.evicted == old
    assert sched.quotas.in_flight("t1") == 1
    assert sched.budgets.remaining("s").tokens == 100
    assert sched.cancel(old.task_id) is None


@pytest.mark.req("ORCH-2301", "ORCH-2303", "ORCH-2304", "ORCH-2201")
def test_quota_budget_and_deadline_refusals_leave_the_queue_untouched() -> None:
    sched = scheduler(capacity=5, max_concurrent=1)
    sched.admit(make_task("busy"), rate=RATE, slots_free=1, now_ms=0.0)
    with pytest.raises(QuotaExceeded):
        sched.admit(make_task("busy"), rate=RATE, slots_free=1, now_ms=0.0)
    with pytest.raises(QuotaExceeded):
        sched.admit(make_task("other", session_id="s", cost=101), rate=RATE, slots_free=1, now_ms=0.0)
    with pytest.raises(DeadlineUnmet):
        sched.admit(make_task("other", cost=100, deadline_at_ms=1_000.0), rate=RATE, slots_free=1, now_ms=0.0)
    assert len(sched.queue("pool-a")) == 1
    assert sched.quotas.in_flight("other") == 0
    assert sched.budgets.remaining("s").tokens == 100


@pytest.mark.req("ORCH-2007", "ORCH-2009", "ORCH-4002")
def test_dequeue_requeue_cancel_and_finish_end_each_task_once() -> None:
    sched = scheduler(capacity=3)
    a = make_task(session_id="s", cost=30)
    b = make_task(Priority.BATCH.value, Priority.BATCH, deadline_at_ms=10.0)
    c = make_task()
    for task in (a, b, c):
        sched.admit(task, rate=ServiceRate(1e6, 0.0, 4), slots_free=4, now_ms=0.0)
    out = sched.next_task("pool-a", 0.0)
    assert out.task == a and sched.pool_of(a.task_id) is None
    assert sched.requeue_front(a, rate=RATE) is None
    with pytest.raises(Conflict):
        sched.requeue_front(a, rate=RATE)
    again = sched.next_task("pool-a", 20.0)
    assert again.task == a and again.expired == (b,)
    assert sched.quotas.in_flight(b.tenant) == 0
    assert sched.cancel(c.task_id) == c and sched.cancel(c.task_id) is None
    sched.finish(a.task_id, tokens_used=12, decode_ms=5.0)
    sched.finish(a.task_id, tokens_used=12, decode_ms=5.0)
    assert sched.quotas.in_flight("t1") == 0
    assert sched.budgets.remaining("s").tokens == 88
    assert sched.next_task("pool-a", 30.0).task is None


@pytest.mark.req("ORCH-4002", "ORCH-2009")
def test_a_requeue_refused_by_a_full_queue_ends_the_task() -> None:
    sched = scheduler(capacity=1)
    a, b = make_task(), make_task()
    sched.admit(a, rate=RATE, slots_free=0, now_ms=0.0)
    assert sched.next_task("pool-a", 0.0).task == a
    sched.admit(b, rate=RATE, slots_free=0, now_ms=0.0)
    with pytest.raises(AdmissionReject):
        sched.requeue_front(a, rate=RATE)
    assert sched.quotas.in_flight("t1") == 1


@pytest.mark.req("ORCH-4004")
def test_drain_and_unknown_pools() -> None:
    sched = scheduler(capacity=3)
    tasks = [make_task() for _ in range(3)]
    for task in tasks:
        sched.admit(task, rate=RATE, slots_free=0, now_ms=0.0)
    assert set(sched.drain("pool-a")) == set(tasks)
    assert sched.quotas.in_flight("t1") == 0
    with pytest.raises(PoolUnavailable):
        sched.next_task("nope", 0.0)
    with pytest.raises(InvalidParams, match="belongs to pool"):
        sched.queue("pool-a").enqueue(make_task(pool_id="pool-b"))
    sched.add_pool("pool-b", QueueConfig(1))
    assert sched.admit(make_task(pool_id="pool-b"), rate=RATE, slots_free=1, now_ms=0.0).evicted is None


@pytest.mark.req("ORCH-2307", "ORCH-2306")
def test_finishing_a_task_that_is_still_queued_is_refused_and_frees_nothing() -> None:
    sched = scheduler(capacity=3)
    queued = make_task(session_id="s", cost=30)
    sched.admit(queued, rate=RATE, slots_free=0, now_ms=0.0)
    with pytest.raises(Conflict, match="still queued"):
        sched.finish(queued.task_id, tokens_used=30, decode_ms=5.0)
    assert sched.quotas.in_flight("t1") == 1
    assert sched.budgets.remaining("s").tokens == 70
    assert sched.cancel(queued.task_id) == queued  # it ends once, here
    assert sched.quotas.in_flight("t1") == 0
    assert sched.budgets.remaining("s").tokens == 100


@pytest.mark.req("ORCH-2207")
def test_admission_to_a_busy_pool_waits_for_the_remaining_time_of_the_running_task() -> None:
    sched = scheduler(capacity=5)
    running = make_task(cost=100)
    sched.admit(running, rate=RATE, slots_free=1, now_ms=0.0)
    assert sched.next_task("pool-a", 0.0).task == running
    # RATE serves 100 tokens in 100 ms first token + 1000 ms decode; 300 ms have passed, 800 ms remain,
    # on the pool's single slot, with nothing queued ahead.
    waiting = sched.admit(make_task(cost=10), rate=RATE, slots_free=0, now_ms=300.0)
    assert waiting.prediction.queue_position == 0
    assert waiting.prediction.predicted_start_ms == (100.0 + 1000.0 - 300.0) / 1
    sched.finish(running.task_id, tokens_used=100, decode_ms=1000.0)
    after = sched.admit(make_task(cost=10), rate=RATE, slots_free=0, now_ms=400.0)
    # The running task ended; the one task ahead (10 tokens) is all the pool has left to do.
    assert after.prediction.predicted_start_ms == 100.0 + 1000.0 * 10 / 100.0


@pytest.mark.req("ORCH-1008", "ORCH-2301")
def test_a_task_over_its_session_budget_and_its_tenant_quota_is_refused_for_the_budget() -> None:
    sched = scheduler(capacity=5, max_concurrent=1)
    sched.admit(make_task("busy"), rate=RATE, slots_free=1, now_ms=0.0)
    with pytest.raises(QuotaExceeded, match="session token budget"):
        sched.admit(make_task("busy", session_id="s", cost=101), rate=RATE, slots_free=1, now_ms=0.0)
