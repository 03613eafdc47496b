"""Tenant quotas (max concurrent, tokens per minute as a token bucket) and session budgets."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_core.budgets import BudgetLimits, SessionBudgets
from orchestrator_core.errors import InvalidParams, QuotaExceeded
from orchestrator_core.quotas import TenantLimits, TenantQuotas, TokenBucket


@pytest.mark.req("ORCH-2302", "ORCH-2304")
def test_bucket_retry_after_is_the_refill_time_of_the_missing_tokens() -> None:
    bucket = TokenBucket.per_minute(600, now_ms=0.0)  # 10 tokens per second
    bucket.take(600, 0.0)
    assert bucket.retry_after_ms(100, 0.0) == 10_000
    assert bucket.retry_after_ms(100, 4_000.0) == 6_000
    assert bucket.retry_after_ms(40, 4_000.0) == 0
    assert bucket.level(120_000.0) == 600  # never above capacity


@pytest.mark.req("ORCH-2302")
def test_a_task_larger_than_the_bucket_waits_for_a_full_bucket_then_runs_into_debt() -> None:
    bucket = TokenBucket.per_minute(60, now_ms=0.0)
    assert bucket.retry_after_ms(100, 0.0) == 0
    bucket.take(100, 0.0)
    assert bucket.level(0.0) == -40
    assert bucket.retry_after_ms(100, 0.0) == 100_000  # 100 missing tokens at 1 token per second


@pytest.mark.req("ORCH-2302", "ORCH-2304")
@settings(max_examples=100, deadline=None, derandomize=True)
@given(per_minute=st.integers(1, 100_000), spent=st.integers(0, 100_000), want=st.integers(1, 100_000))
def test_waiting_retry_after_ms_is_always_enough_and_never_much_more(
    per_minute: int, spent: int, want: int
) -> None:
    def drained() -> TokenBucket:
        bucket = TokenBucket.per_minute(per_minute, now_ms=0.0)
        bucket.take(min(spent, per_minute), 0.0)
        return bucket

    wait = drained().retry_after_ms(want, 0.0)
    assert drained().retry_after_ms(want, float(wait)) == 0
    if wait > 1:
        assert drained().retry_after_ms(want, float(wait - 2)) > 0


@pytest.mark.req("ORCH-2301", "ORCH-2302", "ORCH-2304")
def test_tenant_quota_refusals_carry_quota_label_and_computed_retry_after() -> None:
    quotas = TenantQuotas(TenantLimits(max_concurrent=2, tokens_per_minute=6_000), {"vip": TenantLimits()})
    quotas.check("t", 100, 0.0, concurrency_retry_after_ms=5)
    quotas.commit("t", "a", 100, 0.0)
    quotas.commit("t", "a", 100, 0.0)  # idempotent
    assert quotas.in_flight("t") == 1
    quotas.commit("t", "b", 5_800, 0.0)
    with pytest.raises(QuotaExceeded) as busy:
        quotas.check("t", 1, 0.0, concurrency_retry_after_ms=1234)
    assert (busy.value.retry_after_ms, busy.value.policy_label) == (1234, "quota")
    assert quotas.release("b") and not quotas.release("b")
    with pytest.raises(QuotaExceeded) as poor:
        quotas.check("t", 300, 0.0, concurrency_retry_after_ms=1)
    assert poor.value.retry_after_ms == math.ceil(200 / 0.1)  # 200 tokens missing at 0.1 tokens per ms
    assert poor.value.policy_label == "quota"
    for i in range(50):  # per-tenant override: unlimited
        quotas.commit("vip", f"v{i}", 10**6, 0.0)
    quotas.check("vip", 10**6, 0.0, concurrency_retry_after_ms=1)
    with pytest.raises(InvalidParams):
        TenantLimits(max_concurrent=0)


@pytest.mark.req("ORCH-2303", "ORCH-2304")
def test_session_budget_counts_reservations_then_actual_use() -> None:
    budgets = SessionBudgets()
    budgets.open("s", BudgetLimits(tokens=100, time_ms=1_000.0))
    budgets.check("s", 60)
    budgets.reserve("s", "a", 60)
    with pytest.raises(QuotaExceeded) as reserved:
        budgets.check("s", 50, retry_after_ms=300)
    assert reserved.value.retry_after_ms == 300 and reserved.value.policy_label == "quota"
    budgets.settle("a", tokens_used=20, time_ms=400.0)
    budgets.settle("a", tokens_used=20, time_ms=400.0)  # idempotent
    assert budgets.remaining("s").tokens == 80
    budgets.check("s", 50)
    with pytest.raises(QuotaExceeded) as spent:
        budgets.check("s", 81)
    assert spent.value.retry_after_ms is None
    budgets.reserve("s", "b", 10)
    assert budgets.release("b") and not budgets.release("b")
    budgets.reserve("s", "c", 10)
    budgets.settle("c", tokens_used=1, time_ms=700.0)
    with pytest.raises(QuotaExceeded, match="time"):
        budgets.check("s", 1)
    budgets.check("no-budget", 10**9)
    budgets.check(None, 10**9)
    assert budgets.remaining("no-budget").tokens is None


@pytest.mark.req("ORCH-4117", "ORCH-2303")
def test_a_budget_restored_from_its_usage_refuses_and_settles_as_the_original() -> None:
    original = SessionBudgets()
    original.open("s", BudgetLimits(tokens=100))
    original.reserve("s", "t1", 40)
    original.settle("t1", tokens_used=30, time_ms=5.0)
    original.reserve("s", "t2", 50)
    usage = original.usage("s")
    assert usage is not None and usage.reserved == {"t2": 50} and usage.tokens == 30
    copy = SessionBudgets()
    copy.open("s", BudgetLimits(tokens=5))  # what the copy held before is replaced
    copy.restore("s", usage)
    assert copy.remaining("s") == original.remaining("s")
    with pytest.raises(QuotaExceeded, match="reserved by running tasks"):
        copy.check("s", 30, retry_after_ms=10)
    copy.settle("t2", tokens_used=10, time_ms=1.0)  # the reservation restored with it is settled here
    assert copy.remaining("s").tokens == 60
    assert copy.usage("unknown") is None
