"""Requeue before the first token (ORCH-4002): a task whose replica failed before the client saw anything
goes back to the head of its queue, once, and is placed on another replica.

The runner asks for it; the dispatcher places the task again. Keeping it here, apart from both, is what
lets the dispatcher depend on the runner and the runner on this, with no cycle.
"""

from __future__ import annotations

from orchestrator_core.errors import OrchError
from orchestrator_core.predictions import retry_after_ms

from .lifecycle import TaskLifecycle
from .logs import EventLog
from .replicas import ReplicaRegistry
from .signal import Wakeup
from .state import QueueStore, SharedTaskState, TaskStore, taken_record
from .task_registry import TaskRecord

# A task is placed at most this many times: the first placement and one replacement (ORCH-4002).
MAX_ATTEMPTS = 2


class Requeuer:
    """Puts a failed-before-first-token task back at its queue's head, applying the full-queue policy."""

    def __init__(
        self,
        *,
        queues: QueueStore,
        registry: TaskStore,
        replicas: ReplicaRegistry,
        lifecycle: TaskLifecycle,
        log: EventLog,
        wakeup: Wakeup,
        shared: SharedTaskState | None = None,
    ) -> None:
        self._shared = shared
        self._queues = queues
        self._registry = registry
        self._replicas = replicas
        self._lifecycle = lifecycle
        self._log = log
        self._wakeup = wakeup
        self._open = True

    def close(self) -> None:
        """Shutdown: nothing goes back to a queue any more."""
        self._open = False

    async def requeue(self, record: TaskRecord, failed_replica_id: str, error: OrchError) -> bool:
        """Whether the task went back to its queue; False: the caller ends it with `error`."""
        self._lifecycle.replica_failed(record, failed_replica_id)
        if len(record.attempts) >= MAX_ATTEMPTS or not self._open:
            return False
        task = record.queued
        queue = self._queues.get(task.pool_id)
        retry_ms = retry_after_ms(self._replicas.capacity(task.pool_id).rate, task.cost)
        if self._shared is not None:  # what this attempt streamed is in Redis before another instance runs it
            await self._shared.hand_on(record)
        try:
            evicted = await queue.requeue_front(task, retry_after_ms=retry_ms)
        except OrchError:
            return False
        if evicted is not None:
            victim = await taken_record(evicted, self._registry, self._shared)
            if victim is not None:
                self._lifecycle.evicted(victim, queue.config.policy.value, retry_ms)
        self._lifecycle.requeued(record)
        self._log.event(
            "task.requeued",
            task_id=record.task_id,
            replica_id=failed_replica_id,
            pool_id=queue.pool_id,
            code=error.code,
        )
        self._queues.publish_depth(queue)
        self._wakeup.notify()
        return True
