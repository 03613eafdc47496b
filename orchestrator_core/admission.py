"""The one admission order of a task into its pool's queue (ORCH-1008, ORCH-2001..2005, ORCH-2201,
ORCH-2301..2304), shared by orchestratord's admission and the `Scheduler` facade.

In this order, stopping at the first refusal and changing nothing when it refuses:

1. session state and budget (`SessionGuard.check`) -> QuotaExceeded / Conflict;
2. tenant quota (max concurrent, tokens per minute), checked and taken in one step (`QuotaStore.take`,
   atomic on a shared backend too) -> QuotaExceeded; a refusal after this gives the take back;
3. a full queue whose policy refuses every arrival, when the task has no deadline (the prediction could
   not change the answer, so it is not computed) -> AdmissionReject;
4. prediction, then the deadline check -> DeadlineUnmet;
5. enqueue under the pool's full-queue policy -> AdmissionReject, or a task is evicted;
6. commit: the task counts against its session's budget (`SessionGuard.reserve`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator_core.deadlines import check_admission
from orchestrator_core.predictions import (
    Prediction,
    Running,
    ServiceRate,
    predict,
    retry_after_ms,
    running_ms,
)
from orchestrator_core.queue import Ahead
from orchestrator_core.stores import QuotaStore, TaskQueue
from orchestrator_core.task import QueuedTask


class SessionGuard(Protocol):
    """What a task's session allows: checked before anything else, reserved once the task is queued."""

    def check(self, task: QueuedTask, retry_after_ms: int) -> None:
        """Raise the session's refusal, or return."""

    def reserve(self, task: QueuedTask) -> None:
        """Count the admitted task against its session."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """An admitted task, what the client is told, the task evicted to make room (end it with
    QUEUE_FULL_DROP_LRU), if any, and the retry hint of a refusal or eviction (ORCH-2014)."""

    task: QueuedTask
    prediction: Prediction
    evicted: QueuedTask | None
    retry_after_ms: int


@dataclass(frozen=True, slots=True)
class PoolState:
    """What the prediction needs of the pool now: its service rate, free slots and running work (asked
    only when a prediction is computed)."""

    rate: ServiceRate
    slots_free: int
    running: Callable[[], Sequence[Running]]


async def admit(
    task: QueuedTask,
    queue: TaskQueue,
    pool: PoolState,
    *,
    quotas: QuotaStore,
    sessions: SessionGuard,
    now_ms: float,
) -> Admitted:
    """Admit `task` into `queue` or raise the first refusal, without changing any state."""
    retry_ms = retry_after_ms(pool.rate, task.cost)
    sessions.check(task, retry_ms)
    await quotas.take(task.tenant, task.task_id, task.cost, now_ms, concurrency_retry_after_ms=retry_ms)
    try:
        if task.deadline_at_ms is None:  # nothing between the work ahead and the enqueue can refuse it
            ahead, evicted = await queue.enqueue_ahead(task, retry_after_ms=retry_ms)
            prediction = _prediction(task, ahead, pool, now_ms)
        else:
            prediction = _prediction(task, await queue.ahead_if_admitted(task, retry_ms), pool, now_ms)
            check_admission(task, prediction, now_ms)
            evicted = await queue.enqueue(task, retry_after_ms=retry_ms)
    except BaseException:
        await quotas.refund(task.task_id, task.cost, now_ms)
        raise
    sessions.reserve(task)
    return Admitted(task, prediction, evicted, retry_ms)


def _prediction(task: QueuedTask, ahead: Ahead, pool: PoolState, now_ms: float) -> Prediction:
    return predict(
        ahead,
        tokens=task.cost,
        rate=pool.rate,
        slots_free=pool.slots_free,
        running=running_ms(pool.rate, pool.running()),
        deadline_in_ms=None if task.deadline_at_ms is None else task.deadline_at_ms - now_ms,
    )
