"""Shared builders for the orchestrator_core tests."""

from __future__ import annotations

import itertools

from orchestrator_core.task import Priority, QueuedTask

_ids = itertools.count()


def make_task(
    tenant: str = "t1",
    priority: Priority = Priority.INTERACTIVE,
    *,
    cost: int = 10,
    pool_id: str = "pool-a",
    deadline_at_ms: float | None = None,
    enqueued_ms: float = 0.0,
    session_id: str | None = None,
    task_id: str | None = None,
) -> QueuedTask:
    """A task with a fresh unique id unless one is given."""
    return QueuedTask(
        task_id=task_id or f"task-{next(_ids)}",
        tenant=tenant,
        pool_id=pool_id,
        priority=priority,
        estimated_tokens=cost,
        enqueued_ms=enqueued_ms,
        deadline_at_ms=deadline_at_ms,
        session_id=session_id,
    )
