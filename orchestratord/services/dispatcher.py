"""The dispatcher: takes tasks in fair order per pool, places them, leases a slot and starts their run.

One asyncio loop, owned by the app's lifespan TaskGroup, sleeps until something may have changed (an
admission, a released slot, a replica update) or a short tick passes (queued deadlines), then dispatches
while the pool has a free slot on a ready replica (ORCH-4001). Runs are tasks in the same TaskGroup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from orchestrator_core.deadlines import expired_error
from orchestrator_core.errors import AdmissionReject, OrchError, QueueFullDropLru
from orchestrator_core.placement import Assigned, NoCapacityReason, decide
from orchestrator_core.queue import PoolQueue
from orchestrator_core.task import Priority, QueuedTask

from .lifecycle import TaskLifecycle
from .logs import EventLog
from .metrics import DaemonMetrics
from .queues import PoolQueues
from .replicas import ReplicaRegistry
from .requirements import requirements_for
from .runner import TaskRunner
from .sessions import SessionStore
from .signal import Wakeup
from .task_registry import TaskRecord, TaskRegistry
from .task_spec import TaskState

Clock = Callable[[], float]
MAX_ATTEMPTS = 2
OUTCOME = {
    NoCapacityReason.BUSY: "busy",
    NoCapacityReason.POOL_UNREADY: "unready",
    NoCapacityReason.POOL_UNAVAILABLE: "unavailable",
    NoCapacityReason.REPLICA_EXHAUSTED: "unavailable",
}


class Dispatcher:
    """Moves queued tasks onto replicas; also the home of requeue-before-first-token (ORCH-4002)."""

    def __init__(
        self,
        *,
        clock: Clock,
        queues: PoolQueues,
        registry: TaskRegistry,
        replicas: ReplicaRegistry,
        sessions: SessionStore,
        lifecycle: TaskLifecycle,
        metrics: DaemonMetrics,
        log: EventLog,
        wakeup: Wakeup,
        tick_s: float = 0.05,
    ) -> None:
        self._clock = clock
        self._queues = queues
        self._registry = registry
        self._replicas = replicas
        self._sessions = sessions
        self._lifecycle = lifecycle
        self._metrics = metrics
        self._log = log
        self._wakeup = wakeup
        self._tick_s = tick_s
        self._running = True
        self.runner: TaskRunner | None = None

    def stop(self) -> None:
        """Dispatches nothing more; the loop returns at its next wake-up."""
        self._running = False
        self._wakeup.notify()

    async def run(self, group: asyncio.TaskGroup) -> None:
        """The dispatch loop; runs until `stop()`."""
        while self._running:
            for queue in self._queues:
                self._dispatch_pool(queue, group)
            await self._wakeup.wait(self._tick_s)

    def _dispatch_pool(self, queue: PoolQueue, group: asyncio.TaskGroup) -> None:
        now_ms = self._clock() * 1000.0
        if not self._has_room(queue.pool_id):
            self._expire(queue.expire_due(now_ms))
            return
        while self._running and len(queue) and self._has_room(queue.pool_id):
            dequeued = queue.next_task(now_ms)
            self._expire(dequeued.expired)
            task = dequeued.task
            if task is None:
                break
            record = self._registry.find(task.task_id)
            if record is None or record.state.terminal:
                continue
            if not self._place(queue, task, record, group):
                break
        self._queues.publish_depth(queue)

    def _has_room(self, pool_id: str) -> bool:
        return any(
            r.ready and not r.draining and self._replicas.free_slots(r.replica_id) > 0
            for r in self._replicas.of_pool(pool_id)
        )

    def _place(
        self, queue: PoolQueue, task: QueuedTask, record: TaskRecord, group: asyncio.TaskGroup
    ) -> bool:
        """Starts the task if placement assigns it; False when it had to go back to the queue head."""
        session = self._sessions.find(record.spec.session_id)
        requirements = requirements_for(record.spec, session, record.attempts, record.first_identity)
        decision = decide(requirements, self._replicas.views(self._replicas.of_pool(queue.pool_id)))
        if not isinstance(decision, Assigned):
            error = decision.error()
            self._metrics.placement_decision(queue.pool_id, OUTCOME[decision.reason])
            if error is None:
                queue.requeue_front(task)
                return False
            error.pool_id = queue.pool_id
            self._lifecycle.failed(record, error)
            return True
        replica = self._replicas.get(decision.replica.replica_id)
        lease_id = f"{record.task_id}#{len(record.attempts)}"
        if not self._replicas.lease(replica.replica_id, lease_id):
            queue.requeue_front(task)
            return False
        self._metrics.placement_decision(queue.pool_id, "assigned")
        record.state = TaskState.RUNNING
        record.started_at = self._clock()
        self._metrics.task_started(
            queue.pool_id, record.spec.priority, record.started_at - record.admitted_at
        )
        if record.first_identity is None:
            record.first_identity = decision.replica.identity
        self._lifecycle.placed(record, replica)
        runner = self.runner
        if runner is None:  # pragma: no cover - wiring always sets it
            raise RuntimeError("dispatcher has no runner")
        record.runner = group.create_task(
            runner.run(record, replica, lease_id), name=f"task-{record.task_id}"
        )
        # A run canceled before its first step never enters its own `finally`: release here too
        # (release is idempotent per lease id).
        record.runner.add_done_callback(lambda _: self._replicas.release(lease_id))
        return True

    def _expire(self, expired: tuple[QueuedTask, ...]) -> None:
        for task in expired:
            record = self._registry.find(task.task_id)
            if record is not None:
                self._lifecycle.failed(record, expired_error(task))

    def requeue(self, record: TaskRecord, failed_replica_id: str, error: OrchError) -> bool:
        """Puts a task whose replica failed before any token back at the queue head, once (ORCH-4002)."""
        record.attempts.append(failed_replica_id)
        if len(record.attempts) >= MAX_ATTEMPTS or not self._running:
            return False
        queue = self._queues.get(record.admission.pool_id)
        spec = record.spec
        task = QueuedTask(
            task_id=spec.task_id,
            tenant=spec.tenant,
            pool_id=queue.pool_id,
            priority=Priority(spec.priority),
            estimated_tokens=spec.estimated_tokens,
            enqueued_ms=record.admitted_at * 1000.0,
            session_id=spec.session_id,
        )
        try:
            evicted = queue.requeue_front(task)
        except (AdmissionReject, OrchError):
            return False
        if evicted is not None:
            victim = self._registry.find(evicted.task_id)
            if victim is not None:
                self._lifecycle.failed(
                    victim,
                    QueueFullDropLru(
                        "evicted from the full queue",
                        pool_id=queue.pool_id,
                        policy_label=queue.config.policy.value,
                    ),
                )
        record.state = TaskState.QUEUED
        self._lifecycle.unplaced(record)
        self._metrics.task_requeued(queue.pool_id)
        self._log.event(
            "task.requeued",
            task_id=record.task_id,
            replica_id=failed_replica_id,
            pool_id=queue.pool_id,
            code=error.code,
        )
        self._wakeup.notify()
        return True

    def drain_queued(self, error_factory: Callable[[str], OrchError]) -> int:
        """Ends every queued task with a typed error (shutdown); returns how many."""
        ended = 0
        for queue in self._queues:
            for task in queue.drain():
                record = self._registry.find(task.task_id)
                if record is not None and not record.state.terminal:
                    self._lifecycle.failed(record, error_factory(queue.pool_id))
                    ended += 1
            self._queues.publish_depth(queue)
        return ended
