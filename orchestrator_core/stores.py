"""The interfaces of the state the core's admission order reads and changes: a pool's queue and the tenant
quotas, and their in-memory implementations.

The interfaces are coroutines because a shared backend answers over the network (orchestratord's
redis_state). `LocalQueue` and `LocalQuotas` wrap the in-memory `PoolQueue` and `TenantQuotas`: their
coroutines never suspend, so `admission.admit` on them still runs from its first check to its enqueue
without anything else running in between, as before. What a caller reads without awaiting (`len`, the
depths) is exact in memory and the last answer seen for a shared queue.
"""

from __future__ import annotations

from typing import Protocol

from orchestrator_core.errors import AdmissionReject
from orchestrator_core.queue import Ahead, Dequeued, PoolQueue, QueueConfig
from orchestrator_core.quotas import TenantQuotas
from orchestrator_core.task import Priority, QueuedTask


class TaskQueue(Protocol):
    """One pool's bounded, fair admission queue (ORCH-2001..2009)."""

    @property
    def pool_id(self) -> str: ...
    @property
    def config(self) -> QueueConfig: ...
    def __len__(self) -> int: ...
    def depth(self, priority: Priority) -> int: ...
    def requeued_depth(self) -> int: ...
    def refusal(self, retry_after_ms: int | None) -> AdmissionReject: ...
    async def refresh(self) -> int: ...
    async def get(self, task_id: str) -> QueuedTask | None: ...
    async def ahead_of(self, task_id: str) -> Ahead: ...
    async def ahead_if_enqueued(self, task: QueuedTask) -> Ahead: ...
    async def refuses_every_arrival(self) -> bool: ...
    async def ahead_if_admitted(self, task: QueuedTask, retry_after_ms: int | None) -> Ahead:
        """`ahead_if_enqueued`, after refusing a task without a deadline when the queue refuses every
        arrival (a shared queue asks both in one call)."""
        ...

    async def enqueue(self, task: QueuedTask, *, retry_after_ms: int | None = None) -> QueuedTask | None: ...
    async def enqueue_ahead(
        self, task: QueuedTask, *, retry_after_ms: int | None = None
    ) -> tuple[Ahead, QueuedTask | None]:
        """`ahead_if_admitted` then `enqueue`, for a task without a deadline (a shared queue does both
        in one call): the work ahead of it and the evicted task."""
        ...

    async def requeue_front(
        self, task: QueuedTask, *, retry_after_ms: int | None = None
    ) -> QueuedTask | None: ...
    async def cancel(self, task_id: str) -> QueuedTask | None: ...
    async def next_task(self, now_ms: float) -> Dequeued: ...
    async def expire_due(self, now_ms: float) -> tuple[QueuedTask, ...]: ...
    async def drain(self) -> tuple[QueuedTask, ...]: ...


class QuotaStore(Protocol):
    """Tenant quotas (ORCH-1006): concurrency and tokens per minute.

    `take` checks and charges in one step, so instances sharing the quotas cannot both take the last
    room; `refund` gives back a take whose task was then refused. `release` (the task ended) is called
    from synchronous code: a shared backend may complete it a moment later.
    """

    async def take(
        self, tenant: str, task_id: str, tokens: int, now_ms: float, *, concurrency_retry_after_ms: int
    ) -> None: ...
    async def refund(self, task_id: str, tokens: int, now_ms: float) -> None: ...
    def release(self, task_id: str) -> bool: ...


class LocalQueue:
    """`TaskQueue` over an in-memory `PoolQueue` (the embedded backend)."""

    __slots__ = ("queue",)

    def __init__(self, queue: PoolQueue) -> None:
        self.queue = queue

    @property
    def pool_id(self) -> str:
        return self.queue.pool_id

    @property
    def config(self) -> QueueConfig:
        return self.queue.config

    def __len__(self) -> int:
        return len(self.queue)

    def depth(self, priority: Priority) -> int:
        return self.queue.depth(priority)

    def requeued_depth(self) -> int:
        return self.queue.requeued_depth()

    def refusal(self, retry_after_ms: int | None) -> AdmissionReject:
        return self.queue.refusal(retry_after_ms)

    async def refresh(self) -> int:
        """The number of queued tasks; a shared queue reads it again, since other instances change it."""
        return len(self.queue)

    async def get(self, task_id: str) -> QueuedTask | None:
        return self.queue.get(task_id)

    async def ahead_of(self, task_id: str) -> Ahead:
        return self.queue.ahead_of(task_id)

    async def ahead_if_enqueued(self, task: QueuedTask) -> Ahead:
        return self.queue.ahead_if_enqueued(task)

    async def refuses_every_arrival(self) -> bool:
        return self.queue.refuses_every_arrival()

    async def ahead_if_admitted(self, task: QueuedTask, retry_after_ms: int | None) -> Ahead:
        if task.deadline_at_ms is None and self.queue.refuses_every_arrival():
            raise self.queue.refusal(retry_after_ms)
        return self.queue.ahead_if_enqueued(task)

    async def enqueue_ahead(
        self, task: QueuedTask, *, retry_after_ms: int | None = None
    ) -> tuple[Ahead, QueuedTask | None]:
        ahead = await self.ahead_if_admitted(task, retry_after_ms)
        return ahead, self.queue.enqueue(task, retry_after_ms=retry_after_ms)

    async def enqueue(self, task: QueuedTask, *, retry_after_ms: int | None = None) -> QueuedTask | None:
        return self.queue.enqueue(task, retry_after_ms=retry_after_ms)

    async def requeue_front(
        self, task: QueuedTask, *, retry_after_ms: int | None = None
    ) -> QueuedTask | None:
        return self.queue.requeue_front(task, retry_after_ms=retry_after_ms)

    async def cancel(self, task_id: str) -> QueuedTask | None:
        return self.queue.cancel(task_id)

    async def next_task(self, now_ms: float) -> Dequeued:
        return self.queue.next_task(now_ms)

    async def expire_due(self, now_ms: float) -> tuple[QueuedTask, ...]:
        return self.queue.expire_due(now_ms)

    async def drain(self) -> tuple[QueuedTask, ...]:
        return self.queue.drain()


class LocalQuotas:
    """`QuotaStore` over in-memory `TenantQuotas` (the embedded backend)."""

    __slots__ = ("quotas",)

    def __init__(self, quotas: TenantQuotas) -> None:
        self.quotas = quotas

    async def take(
        self, tenant: str, task_id: str, tokens: int, now_ms: float, *, concurrency_retry_after_ms: int
    ) -> None:
        self.quotas.check(tenant, tokens, now_ms, concurrency_retry_after_ms=concurrency_retry_after_ms)
        self.quotas.commit(tenant, task_id, tokens, now_ms)

    async def refund(self, task_id: str, tokens: int, now_ms: float) -> None:
        self.quotas.refund(task_id, tokens, now_ms)

    def release(self, task_id: str) -> bool:
        return self.quotas.release(task_id)
