"""A scheduler over the core's pieces alone, for the core's tests: per-pool queues with admission, fair
dequeue, requeue, cancel and task ends, without the daemon. orchestratord composes the same pieces in its
services; this driver proves the pieces compose into a whole that loses no task.

Admission follows the one order of `orchestrator_core.admission` (session budget, tenant quota, the
full-queue shortcut, prediction and deadline, enqueue, commit), the same that orchestratord runs.

Every admitted task reaches exactly one end, and the scheduler frees its quota and budget there:
evicted (returned by `admit`/`requeue_front`), canceled while queued (`cancel`), expired (returned by
`next_task`), or dispatched and later ended with `finish`. `finish` refuses a task that is still queued
(it would otherwise be freed again when it leaves the queue); a queued task ends by `cancel`. The
scheduler remembers when each dispatched task started, so admission predicts the remaining time of the
running work (ORCH-2207).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from orchestrator_core.admission import Admitted, PoolState
from orchestrator_core.budgets import SessionBudgets
from orchestrator_core.errors import AdmissionReject, Conflict, PoolUnavailable
from orchestrator_core.predictions import Running, ServiceRate, retry_after_ms
from orchestrator_core.queue import Dequeued, PoolQueue, QueueConfig
from orchestrator_core.quotas import TenantQuotas
from orchestrator_core.task import QueuedTask
from tests.core.admit_now import admit_now


class _BudgetGuard:
    """Session budgets as the admission's session guard."""

    __slots__ = ("_budgets",)

    def __init__(self, budgets: SessionBudgets) -> None:
        self._budgets = budgets

    def check(self, task: QueuedTask, retry_after_ms: int) -> None:
        self._budgets.check(task.session_id, task.cost, retry_after_ms=retry_after_ms)

    def reserve(self, task: QueuedTask) -> None:
        self._budgets.reserve(task.session_id, task.task_id, task.cost)


class Scheduler:
    """Per-pool queues plus the tenant quotas and session budgets that guard them."""

    __slots__ = ("_budgets", "_guard", "_pool_of", "_queues", "_quotas", "_running")

    def __init__(
        self,
        queues: Mapping[str, QueueConfig],
        *,
        quotas: TenantQuotas | None = None,
        budgets: SessionBudgets | None = None,
    ) -> None:
        """Create one queue per pool in `queues`."""
        self._queues = {pool_id: PoolQueue(pool_id, config) for pool_id, config in queues.items()}
        self._quotas = quotas or TenantQuotas()
        self._budgets = budgets or SessionBudgets()
        self._guard = _BudgetGuard(self._budgets)
        self._pool_of: dict[str, str] = {}
        self._running: dict[str, tuple[QueuedTask, float]] = {}

    @property
    def quotas(self) -> TenantQuotas:
        """The tenant quotas."""
        return self._quotas

    @property
    def budgets(self) -> SessionBudgets:
        """The session budgets."""
        return self._budgets

    def add_pool(self, pool_id: str, config: QueueConfig) -> None:
        """Create the queue of a pool that appeared; an existing queue is kept."""
        self._queues.setdefault(pool_id, PoolQueue(pool_id, config))

    def queue(self, pool_id: str) -> PoolQueue:
        """The queue of `pool_id`.

        Raises:
            PoolUnavailable: no such pool.
        """
        queue = self._queues.get(pool_id)
        if queue is None:
            raise PoolUnavailable(f"pool {pool_id} does not exist", pool_id=pool_id)
        return queue

    def pool_of(self, task_id: str) -> str | None:
        """The pool whose queue holds `task_id`, or None if it is not queued."""
        return self._pool_of.get(task_id)

    def admit(self, task: QueuedTask, *, rate: ServiceRate, slots_free: int, now_ms: float) -> Admitted:
        """Admit `task` into its pool's queue, or refuse it without changing any state.

        `rate` is the pool's service rate (`ThroughputModel.pool_rate`), `slots_free` its free slots now.

        Raises:
            PoolUnavailable: the task's pool does not exist.
            QuotaExceeded: tenant quota or session budget (policy_label `quota`, retry_after_ms).
            DeadlineUnmet: predicted start + decode exceed the deadline.
            AdmissionReject: the queue is full and its policy refuses the task (retry_after_ms, label).
            Conflict: a task with this id is already queued.
        """
        queue = self.queue(task.pool_id)
        state = PoolState(rate, slots_free, partial(self._running_in, task.pool_id, now_ms))
        admission = admit_now(task, queue, state, quotas=self._quotas, sessions=self._guard, now_ms=now_ms)
        self._pool_of[task.task_id] = task.pool_id
        if admission.evicted is not None:
            self._ended_unrun(admission.evicted)
        return admission

    def next_task(self, pool_id: str, now_ms: float) -> Dequeued:
        """The next task of `pool_id` in fair order, and the queued tasks that expired (end them with
        DEADLINE_UNMET). The returned task stays in flight until `finish` or `requeue_front`.

        Raises:
            PoolUnavailable: no such pool.
        """
        out = self.queue(pool_id).next_task(now_ms)
        for task in out.expired:
            self._ended_unrun(task)
        if out.task is not None:
            del self._pool_of[out.task.task_id]
            self._running[out.task.task_id] = (out.task, now_ms)
        return out

    def requeue_front(self, task: QueuedTask, *, rate: ServiceRate) -> QueuedTask | None:
        """Put a dispatched task whose replica failed before any token back at the head of its queue.

        Returns the task evicted to make room (end it with QUEUE_FULL_DROP_LRU), or None. If the queue
        refuses it, the task has ended: its quota and budget are freed before the error propagates.

        Raises:
            PoolUnavailable: no such pool.
            AdmissionReject: the full queue's policy refuses it.
            Conflict: the task is still queued.
        """
        queue = self.queue(task.pool_id)
        self._running.pop(task.task_id, None)
        try:
            evicted = queue.requeue_front(task, retry_after_ms=_one_slot_ms(rate, task.cost))
        except AdmissionReject:
            self._ended_unrun(task)
            raise
        self._pool_of[task.task_id] = task.pool_id
        if evicted is not None:
            self._ended_unrun(evicted)
        return evicted

    def cancel(self, task_id: str) -> QueuedTask | None:
        """Remove a queued task (ORCH-2007); idempotent. Returns it, or None if it was not queued (a
        running task is canceled by the daemon, which then calls `finish`)."""
        pool_id = self._pool_of.get(task_id)
        if pool_id is None:
            return None
        task = self._queues[pool_id].cancel(task_id)
        if task is not None:
            self._ended_unrun(task)
        return task

    def finish(self, task_id: str, *, tokens_used: int, decode_ms: float) -> None:
        """A dispatched task ended (succeeded, failed or canceled while running): free its quota and charge
        its session what it used. Idempotent once the task has left the queue.

        Raises:
            Conflict: the task is still queued (end it with `cancel`); nothing changes.
        """
        pool_id = self._pool_of.get(task_id)
        if pool_id is not None:
            raise Conflict(
                f"task {task_id} is still queued in pool {pool_id}: cancel it instead of finishing it",
                pool_id=pool_id,
            )
        self._running.pop(task_id, None)
        self._quotas.release(task_id)
        self._budgets.settle(task_id, tokens_used=tokens_used, time_ms=decode_ms)

    def drain(self, pool_id: str) -> tuple[QueuedTask, ...]:
        """Remove every queued task of `pool_id` (shutdown); the caller ends them with a typed error.

        Raises:
            PoolUnavailable: no such pool.
        """
        tasks = self.queue(pool_id).drain()
        for task in tasks:
            self._ended_unrun(task)
        return tasks

    def _running_in(self, pool_id: str, now_ms: float) -> list[Running]:
        return [
            Running(task.cost, now_ms - started_ms)
            for task, started_ms in self._running.values()
            if task.pool_id == pool_id
        ]

    def _ended_unrun(self, task: QueuedTask) -> None:
        self._pool_of.pop(task.task_id, None)
        self._quotas.release(task.task_id)
        self._budgets.release(task.task_id)


def _one_slot_ms(rate: ServiceRate, tokens: int) -> int:
    """Retry hint of a refusal or eviction: one slot's time to serve the task (ORCH-2014)."""
    return retry_after_ms(rate, tokens)
