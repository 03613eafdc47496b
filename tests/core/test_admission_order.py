"""The one admission order shared by orchestratord and the Scheduler facade (ORCH-1008)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from orchestrator_core.admission import PoolState
from orchestrator_core.errors import AdmissionReject, QuotaExceeded
from orchestrator_core.predictions import Running, ServiceRate
from orchestrator_core.queue import FullPolicy, PoolQueue, QueueConfig
from orchestrator_core.quotas import TenantLimits, TenantQuotas
from orchestrator_core.task import QueuedTask
from tests.core.admit_now import admit_now
from tests.core.strategies import make_task

RATE = ServiceRate(tokens_per_s=100.0, first_token_ms=100.0, slots=1)


class RecordingGuard:
    """A session guard that records when it is asked, and refuses when told to."""

    def __init__(self, log: list[str], refuse: bool = False) -> None:
        self.log = log
        self.refuse = refuse

    def check(self, task: QueuedTask, retry_after_ms: int) -> None:
        self.log.append(f"session check {task.task_id}")
        if self.refuse:
            raise QuotaExceeded("session token budget is spent", policy_label="quota")

    def reserve(self, task: QueuedTask) -> None:
        self.log.append(f"session reserve {task.task_id}")


def no_running_work() -> Sequence[Running]:
    return ()


@pytest.mark.req("ORCH-1008", "ORCH-2301", "ORCH-4104")
def test_the_session_is_asked_before_the_tenant_quota_and_charged_only_once_queued() -> None:
    log: list[str] = []
    queue = PoolQueue("pool-a", QueueConfig(4, FullPolicy.REJECT))
    quotas = TenantQuotas(TenantLimits(max_concurrent=1, tokens_per_minute=60_000))
    pool = PoolState(RATE, slots_free=1, running=no_running_work)
    first = make_task(task_id="a")
    admit_now(first, queue, pool, quotas=quotas, sessions=RecordingGuard(log), now_ms=0.0)
    assert log == ["session check a", "session reserve a"]
    with pytest.raises(QuotaExceeded, match="session"):
        # Over both its session budget and its tenant's quota: the session's refusal comes first.
        admit_now(
            make_task(task_id="b"), queue, pool, quotas=quotas, sessions=RecordingGuard(log, True), now_ms=0.0
        )
    assert log[-1] == "session check b" and len(queue) == 1 and quotas.in_flight("t1") == 1


@pytest.mark.req("ORCH-1008", "ORCH-2001")
def test_a_full_reject_queue_refuses_a_task_without_a_deadline_before_any_prediction() -> None:
    queue = PoolQueue("pool-a", QueueConfig(1, FullPolicy.REJECT))
    quotas = TenantQuotas()
    admit_now(
        make_task(),
        queue,
        PoolState(RATE, 0, no_running_work),
        quotas=quotas,
        sessions=RecordingGuard([]),
        now_ms=0.0,
    )

    def running_work_must_not_be_asked() -> Sequence[Running]:
        raise AssertionError("a prediction was computed for a refusal it cannot change")

    pool = PoolState(RATE, 0, running_work_must_not_be_asked)
    with pytest.raises(AdmissionReject) as refused:
        admit_now(make_task(), queue, pool, quotas=quotas, sessions=RecordingGuard([]), now_ms=0.0)
    assert refused.value.retry_after_ms == 100 + 100  # one slot's time for the task's 10 tokens
    assert len(queue) == 1 and quotas.in_flight("t1") == 1
