"""The dispatcher: takes tasks in fair order per pool, places them, leases a slot and starts their run.

One asyncio loop, owned by the app's lifespan TaskGroup, sleeps until something may have changed (an
admission, a released slot, a replica update) or a short tick passes (queued deadlines), then dispatches
while the pool has a free slot on a ready replica (ORCH-4001). Runs are tasks in the same TaskGroup. A pool
without a ready replica keeps its tasks queued for at most the unready wait, then ends them with
POOL_UNREADY (ORCH-2013); a requeued task keeps its deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from orchestrator_core.deadlines import expired_error
from orchestrator_core.errors import Internal, OrchError, PoolUnready, StateUnavailable, WorkerReset
from orchestrator_core.placement import Assigned, decide
from orchestrator_core.stores import TaskQueue
from orchestrator_core.task import QueuedTask

from .lifecycle import TaskLifecycle
from .metrics import PLACEMENT_OUTCOMES, DaemonMetrics
from .replicas import ReplicaRegistry
from .requirements import requirements_for
from .runner import TaskRunner
from .signal import Wakeup
from .state import (
    QueueStore,
    SessionState,
    SharedSessionState,
    SharedSlotLeases,
    SharedTaskState,
    TaskStore,
    taken_record,
)
from .task_registry import TaskRecord
from .task_spec import TaskState

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
DEFAULT_UNREADY_WAIT_S = 30.0
UNREADY_CHECK_S = 0.25
# How many tasks that cannot start yet one dispatch pass looks past before it stops (ORCH-4006).
MAX_HELD_TASKS = 16
UNREACHABLE_RETRY_S = 0.25


class Dispatcher:
    """Moves queued tasks onto replicas and starts their runs."""

    def __init__(
        self,
        *,
        clock: Clock,
        queues: QueueStore,
        registry: TaskStore,
        replicas: ReplicaRegistry,
        sessions: SessionState,
        lifecycle: TaskLifecycle,
        runner: TaskRunner,
        metrics: DaemonMetrics,
        wakeup: Wakeup,
        unready_wait_s: Callable[[str], float] = lambda _pool_id: DEFAULT_UNREADY_WAIT_S,
        tick_s: float = 0.05,
        shared: SharedTaskState | None = None,
        shared_leases: SharedSlotLeases | None = None,
        shared_sessions: SharedSessionState | None = None,
    ) -> None:
        self._clock = clock
        self._shared = shared
        self._shared_sessions = shared_sessions
        self._shared_leases = shared_leases
        # The run holding each shared slot lease, for a lease that lapses under it (ORCH-4105).
        self._lease_holders: dict[str, TaskRecord] = {}
        self._queues = queues
        self._registry = registry
        self._replicas = replicas
        self._sessions = sessions
        self._lifecycle = lifecycle
        self._runner = runner
        self._metrics = metrics
        self._wakeup = wakeup
        self._tick_s = tick_s
        self._unready_wait_s = unready_wait_s
        # When each pool was first seen without a ready replica, and when to look for overdue tasks next.
        self._unready_since: dict[str, float] = {}
        self._held_seen: dict[str, int] = {}  # per dispatch pass: the shared slots held on each replica
        self._unready_check_at: dict[str, float] = {}
        self._running = True
        self._paused = False

    def stop(self) -> None:
        """Dispatches nothing more; the loop returns at its next wake-up."""
        self._running = False
        self._wakeup.notify()

    async def run(self, group: asyncio.TaskGroup) -> None:
        """The dispatch loop; runs until `stop()`."""
        while self._running:
            if self._shared is not None:  # other instances fill the queues of every pool served here
                for pool_id in self._replicas.pool_ids():
                    self._queues.get(pool_id)
            unreachable: StateUnavailable | None = None
            for queue in self._queues:
                try:
                    await self._dispatch_pool(queue, group)
                except StateUnavailable as error:  # Redis away: nothing can be taken; try again shortly
                    unreachable = error
                    break
                except Exception:  # one failing pool must not stop dispatching (nor the daemon's TaskGroup)
                    logger.exception("dispatching pool %s failed", queue.pool_id)
            self._note_state(unreachable)
            await self._wakeup.wait(self._tick_s if unreachable is None else UNREACHABLE_RETRY_S)

    def _note_state(self, unreachable: StateUnavailable | None) -> None:
        """Logs once when dispatching pauses for an unreachable shared state, and once when it resumes."""
        if (unreachable is not None) == self._paused:
            return
        self._paused = unreachable is not None
        if unreachable is not None:
            logger.warning("dispatching paused: %s", unreachable.message)
        else:
            logger.warning("dispatching resumed: the shared state answers again")

    async def _dispatch_pool(self, queue: TaskQueue, group: asyncio.TaskGroup) -> None:
        now = self._clock()
        now_ms = now * 1000.0
        # The cluster's held slots are asked once per pass and then counted here as this pass takes
        # them; a slot another instance took meanwhile is refused by the lease itself (the task goes back).
        self._held_seen.clear()
        if self._shared is None:
            room = await self._has_room(queue.pool_id)
        else:  # a shared queue changes on every instance; both questions go to Redis in one write
            _, room = await asyncio.gather(queue.refresh(), self._has_room(queue.pool_id))
        if not room:
            await self._expire(await queue.expire_due(now_ms))
            await self._end_overdue_unready(queue, now)
            self._queues.publish_depth(queue)
            return
        self._unready_since.pop(queue.pool_id, None)
        # Tasks that cannot start yet (a later session turn waiting for the previous one, ORCH-4008, or
        # busy for their own constraints, ORCH-4006) go back to the queue head in their order.
        held: list[QueuedTask] = []
        while self._running and len(queue) and await self._has_room(queue.pool_id):
            dequeued = await queue.next_task(now_ms)
            await self._expire(dequeued.expired)
            task = dequeued.task
            if task is None:
                break
            record = await taken_record(task, self._registry, self._shared)
            if record is None or record.state.terminal:
                continue
            if self._registry.earlier_turn_live(record):
                held.append(task)
                if len(held) > MAX_HELD_TASKS:
                    break
                continue
            try:
                placed = await self._place(queue, task, record, group)
            except StateUnavailable as error:  # taken, but neither startable nor returnable: it ends
                self._lifecycle.failed(record, error)
                await self._put_back(queue, held)
                raise
            except Exception:  # the task left the queue: end it rather than leave it queued nowhere
                logger.exception("placing task %s failed", task.task_id)
                self._lifecycle.failed(record, Internal("placement failed", pool_id=queue.pool_id))
                continue
            if not placed:  # busy for its own constraints: look past it at the next tasks
                held.append(task)
                if len(held) > MAX_HELD_TASKS:
                    break
        await self._put_back(queue, held)
        self._queues.publish_depth(queue)

    async def _put_back(self, queue: TaskQueue, held: list[QueuedTask]) -> None:
        """Returns the held tasks to the queue head in their order; while the shared state does not
        answer, a task that cannot go back ends with STATE_UNAVAILABLE rather than stay queued nowhere."""
        for task in reversed(held):
            if self._shared is not None:
                self._shared.put_back(task.task_id)
            try:
                await queue.requeue_front(task)
            except StateUnavailable as error:
                record = self._registry.find(task.task_id)
                if record is not None and not record.state.terminal:
                    self._lifecycle.failed(record, error)
        held.clear()

    async def _end_overdue_unready(self, queue: TaskQueue, now: float) -> None:
        """Ends with POOL_UNREADY the queued tasks that waited the unready wait for a ready replica
        (ORCH-2013), counted from admission or from when the pool lost its last ready replica."""
        pool_id = queue.pool_id
        if any(r.ready and not r.draining for r in self._replicas.of_pool(pool_id)):
            self._unready_since.pop(pool_id, None)
            return
        since = self._unready_since.setdefault(pool_id, now)
        wait_s = self._unready_wait_s(pool_id)
        if not len(queue) or now < max(since + wait_s, self._unready_check_at.get(pool_id, 0.0)):
            return
        self._unready_check_at[pool_id] = now + UNREADY_CHECK_S
        cutoff = now - wait_s
        for record in self._registry.active():
            overdue = record.state is TaskState.QUEUED and record.admitted_at <= cutoff
            if overdue and record.queued.pool_id == pool_id and await queue.cancel(record.task_id):
                error = PoolUnready(
                    f"no replica of pool {pool_id} became ready within {wait_s:g} s", pool_id=pool_id
                )
                self._lifecycle.failed(record, error)

    async def _has_room(self, pool_id: str) -> bool:
        """A ready replica of the pool has a free slot here and, shared, across the cluster: otherwise the
        pass would take tasks only to put them back."""
        free = [
            r.replica_id
            for r in self._replicas.of_pool(pool_id)
            if r.ready and not r.draining and self._replicas.free_slots(r.replica_id) > 0
        ]
        if self._shared_leases is None or not free:
            return bool(free)
        for replica_id in free:
            held = self._held_seen.get(replica_id)
            if held is None:
                held = self._held_seen[replica_id] = await self._shared_leases.held_slots(replica_id)
            if held < self._replicas.total_slots(replica_id):
                return True
        return False

    async def _place(
        self, queue: TaskQueue, task: QueuedTask, record: TaskRecord, group: asyncio.TaskGroup
    ) -> bool:
        """Starts the task if placement assigns it; False when it is busy and must stay queued."""
        session_id = record.spec.session_id
        if session_id is not None and self._shared_sessions is not None:
            await self._shared_sessions.pull(session_id)  # its last turn may have run elsewhere
        session = self._sessions.find(session_id)
        requirements = requirements_for(record.spec, session, record.attempts, record.first_identity)
        decision = decide(requirements, self._replicas.views(self._replicas.of_pool(queue.pool_id)))
        if not isinstance(decision, Assigned):
            error = decision.error()
            self._metrics.placement_decision(queue.pool_id, PLACEMENT_OUTCOMES[decision.reason])
            if error is None:  # BUSY: the caller keeps it queued at its place (ORCH-3007, ORCH-4006)
                return False
            error.pool_id = queue.pool_id
            self._lifecycle.failed(record, error)
            return True
        replica = self._replicas.get(decision.replica.replica_id)
        lease_id = self._replicas.lease(replica.replica_id, record.task_id)
        if lease_id is None:
            return False
        shared_lease: str | None = None
        if self._shared_leases is not None:
            slots = self._replicas.total_slots(replica.replica_id)
            shared_lease = await self._shared_leases.take_slot(replica.replica_id, record.task_id, slots)
            if shared_lease is not None and replica.replica_id in self._held_seen:
                self._held_seen[replica.replica_id] += 1
            if shared_lease is None or record.state.terminal:  # every slot held across the cluster
                self._replicas.release(lease_id)
                if shared_lease is not None:
                    self._shared_leases.free_slot(shared_lease)
                return record.state.terminal
        self._metrics.placement_decision(queue.pool_id, "assigned")
        self._lifecycle.dispatched(record, replica, decision.replica.identity)
        if self._shared is not None:
            self._shared.dispatched(record)
        record.runner = group.create_task(
            self._runner.run(record, replica, lease_id), name=f"task-{record.task_id}"
        )
        # A run canceled before its first step never enters its own `finally`: release here too
        # (release is idempotent per lease id).
        record.runner.add_done_callback(lambda _: self._replicas.release(lease_id))
        if shared_lease is not None:
            self._hold_shared(shared_lease, record)
        return True

    def _hold_shared(self, lease_id: str, record: TaskRecord) -> None:
        leases = self._shared_leases
        assert leases is not None and record.runner is not None
        self._lease_holders[lease_id] = record

        def release(_: object) -> None:
            self._lease_holders.pop(lease_id, None)
            leases.free_slot(lease_id)

        record.runner.add_done_callback(release)

    def lease_lost(self, lease_id: str) -> None:
        """A shared slot lease lapsed under its run (this instance was cut off from Redis, or paused past
        the TTL): another instance may hold the slot now, so the run stops (ORCH-4105)."""
        record = self._lease_holders.pop(lease_id, None)
        if record is None or record.state.terminal:
            return
        self._lifecycle.failed(
            record,
            WorkerReset("the slot lease lapsed before the task finished", pool_id=record.queued.pool_id),
        )
        if record.runner is not None:
            record.runner.cancel("slot lease lost")

    async def _expire(self, expired: tuple[QueuedTask, ...]) -> None:
        for task in expired:
            record = await taken_record(task, self._registry, self._shared)
            if record is not None:
                self._lifecycle.failed(record, expired_error(task))

    async def end_queued(self, error_factory: Callable[[str], OrchError]) -> int:
        """Ends every queued task with a typed error (shutdown); returns how many. Every queued record is
        in its pool's queue, so taking them from the queues ends them all. Shared queues are left as they
        are: the other instances dispatch them (ORCH-4110)."""
        if self._shared is not None:
            return 0
        ended = 0
        for queue in self._queues:
            for task in await queue.drain():
                record = self._registry.find(task.task_id)
                if record is not None and not record.state.terminal:
                    self._lifecycle.failed(record, error_factory(queue.pool_id))
                    ended += 1
            self._queues.publish_depth(queue)
        return ended
