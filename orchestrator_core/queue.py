"""The bounded admission queue of one pool: full-queue policies, fair dequeue, cancel, expiry, requeue.

Layout and cost of each operation (n = queued tasks, T = tenants with queued tasks, k = tasks returned):

- every task sits in exactly one lane: the requeue lane (tasks whose replica failed before any token,
  served first), or the lane of its (class, tenant); lanes are `OrderedDict`s, so FIFO pop, append,
  push-front and delete-by-id are O(1);
- each class also keeps an `OrderedDict` in arrival order, so the oldest and the newest task of a class
  (the victims of `drop-lru` and `shed-low-priority`) are found and removed in O(1);
- deadlines live in a binary heap with lazy deletion (entries of tasks that left are skipped when they
  surface, and the heap is rebuilt when garbage outnumbers live entries, so it stays O(n) in size).

enqueue: O(1), plus O(log n) for a task with a deadline. cancel: O(1). next_task: O(1) amortised plus
O(k log n) for the k expired tasks it returns. requeue_front: O(1) (+ O(log n) with a deadline).

Full-queue policies (ORCH-2003..2005), applied when the queue holds `capacity` tasks:

- `reject`: the arriving task is refused with ADMISSION_REJECT;
- `drop-lru`: the oldest queued batch task is evicted, else the oldest interactive one; the evicted task is
  returned to the caller, which ends it with QUEUE_FULL_DROP_LRU;
- `shed-low-priority`: an interactive arrival evicts the newest batch task (returned likewise); a batch
  arrival, or an interactive one when no batch task is queued, is refused with ADMISSION_REJECT.

Tasks in the requeue lane are never evicted: they were admitted before everything else in the queue.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from orchestrator_core.errors import AdmissionReject, Conflict, InvalidParams, NotFound
from orchestrator_core.fairness import ClassScheduler, DeficitRoundRobin
from orchestrator_core.task import Priority, QueuedTask


class FullPolicy(StrEnum):
    """What a full queue does with an arrival; the value is the `policy_label` of the refusal."""

    REJECT = "reject"
    DROP_LRU = "drop-lru"
    SHED_LOW_PRIORITY = "shed-low-priority"


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Per-pool queue settings."""

    capacity: int
    policy: FullPolicy = FullPolicy.REJECT
    interactive_weight: int = 8
    batch_weight: int = 1
    min_quantum_tokens: int = 4096

    def __post_init__(self) -> None:
        """Validate the settings.

        Raises:
            InvalidParams: capacity, weights or quantum below 1.
        """
        if self.capacity < 1:
            raise InvalidParams("queue capacity must be >= 1")
        if self.interactive_weight < 1 or self.batch_weight < 1:
            raise InvalidParams("class weights must be >= 1")
        if self.min_quantum_tokens < 1:
            raise InvalidParams("min_quantum_tokens must be >= 1")


class Dequeued(NamedTuple):
    """Result of `next_task`: the task to place (None if nothing is waiting) and the tasks that expired.

    A NamedTuple rather than a frozen dataclass: it is built on every dequeue, and tuples build fastest.
    """

    task: QueuedTask | None
    expired: tuple[QueuedTask, ...] = ()


class Ahead(NamedTuple):
    """Queued work the fair order dispatches before a task: how many tasks, and their estimated tokens."""

    tasks: int
    tokens: float


class _ClassLanes:
    """The lanes of one priority class: per-tenant FIFOs, the class arrival order and its DRR ring."""

    __slots__ = ("arrival", "drr", "lane_tokens", "lanes")

    def __init__(self, min_quantum: int) -> None:
        self.arrival: OrderedDict[str, QueuedTask] = OrderedDict()
        self.lanes: dict[str, OrderedDict[str, QueuedTask]] = {}
        self.lane_tokens: dict[str, int] = {}
        self.drr = DeficitRoundRobin(min_quantum)

    def head_cost(self, tenant: str) -> int | None:
        lane = self.lanes.get(tenant)
        if not lane:
            return None
        return next(iter(lane.values())).cost

    def add(self, task: QueuedTask) -> None:
        tenant = task.tenant
        lane = self.lanes.get(tenant)
        cost = task.cost
        if lane is None:
            lane = self.lanes[tenant] = OrderedDict()
            self.lane_tokens[tenant] = cost
        else:
            self.lane_tokens[tenant] += cost
        lane[task.task_id] = task
        self.arrival[task.task_id] = task
        self.drr.activate(tenant, cost)

    def remove(self, task: QueuedTask) -> None:
        tenant = task.tenant
        lane = self.lanes[tenant]
        del lane[task.task_id]
        del self.arrival[task.task_id]
        if lane:
            self.lane_tokens[tenant] -= task.cost
        else:
            del self.lanes[tenant]
            del self.lane_tokens[tenant]

    def ahead(self, target: QueuedTask, *, arriving: bool, excluded: QueuedTask | None) -> tuple[int, int]:
        """Tasks and tokens of this class that DRR dispatches before `target`, queued here or (`arriving`)
        about to be appended to its lane, with `excluded` already gone. O(T) plus the tasks walked in lanes
        served only in part (and in `target`'s lane when it is queued)."""
        lane = self.lanes.get(target.tenant)
        if not arriving:
            before, tokens = _prefix(self.lanes[target.tenant], target, self.lane_tokens[target.tenant])
        else:
            before, tokens = (len(lane), self.lane_tokens[target.tenant]) if lane else (0, 0)
            if lane is not None and excluded is not None and lane.get(excluded.task_id) is excluded:
                before, tokens = before - 1, tokens - excluded.cost
        credits = self.drr.credits_before(
            target.tenant, tokens + target.cost, min_quantum=target.cost if arriving else 1
        )
        for tenant, credit in credits:
            other = self.lanes.get(tenant)
            if other is None or credit < 0:
                continue
            skip = excluded if excluded is not None and other.get(excluded.task_id) is excluded else None
            count, total = len(other), self.lane_tokens[tenant]
            if skip is not None:
                count, total = count - 1, total - skip.cost
            served, served_tokens = _fitting(other, credit, count, total, skip)
            before, tokens = before + served, tokens + served_tokens
        return before, tokens

    def queued_tokens(self) -> int:
        """Estimated tokens of every task of this class (O(T))."""
        return sum(self.lane_tokens.values())

    def pop_fair(self) -> QueuedTask | None:
        tenant = self.drr.choose(self.head_cost)
        if tenant is None:
            return None
        lane = self.lanes[tenant]
        task = lane.popitem(last=False)[1]
        del self.arrival[task.task_id]
        if lane:
            self.lane_tokens[tenant] -= task.cost
        else:
            del self.lanes[tenant]
            del self.lane_tokens[tenant]
        return task


class PoolQueue:
    """Bounded, fair admission queue of one pool (ORCH-2001..2009, ORCH-2101..2103, ORCH-2202)."""

    __slots__ = ("_by_id", "_classes", "_config", "_deadlines", "_front", "_pool_id", "_scheduler", "_seq")

    def __init__(self, pool_id: str, config: QueueConfig) -> None:
        """Create the empty queue of pool `pool_id` with `config`."""
        self._pool_id = pool_id
        self._config = config
        self._classes = {
            Priority.INTERACTIVE: _ClassLanes(config.min_quantum_tokens),
            Priority.BATCH: _ClassLanes(config.min_quantum_tokens),
        }
        self._scheduler = ClassScheduler(config.interactive_weight, config.batch_weight)
        self._front: OrderedDict[str, QueuedTask] = OrderedDict()
        self._by_id: dict[str, QueuedTask] = {}
        self._deadlines: list[tuple[float, int, QueuedTask]] = []
        self._seq = 0

    @property
    def pool_id(self) -> str:
        """The pool this queue feeds."""
        return self._pool_id

    @property
    def config(self) -> QueueConfig:
        """The queue's settings."""
        return self._config

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._by_id

    def get(self, task_id: str) -> QueuedTask | None:
        """The queued task with `task_id`, or None."""
        return self._by_id.get(task_id)

    def depth(self, priority: Priority) -> int:
        """Tasks of `priority` waiting in fair order (the requeue lane not included)."""
        return len(self._classes[priority].arrival)

    def requeued_depth(self) -> int:
        """Tasks waiting in the requeue lane."""
        return len(self._front)

    def ahead_of(self, task_id: str) -> Ahead:
        """The work dispatched before the queued task `task_id` if nothing arrives, leaves or expires
        (ORCH-2206): its `tasks` are the task's queue position, exact; see `_ahead` for the tokens.

        Raises:
            NotFound: the task is not queued here.
        """
        task = self._by_id.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id} is not queued in pool {self._pool_id}", pool_id=self._pool_id)
        if task_id in self._front:
            before, tokens = _prefix(self._front, task, sum(queued.cost for queued in self._front.values()))
            return Ahead(before, tokens)
        return self._ahead(task, arriving=False, excluded=None)

    def ahead_if_enqueued(self, task: QueuedTask) -> Ahead:
        """The work that would be dispatched before `task` were it enqueued now, after the eviction its
        arrival causes in a full queue (an arrival the queue would refuse is counted as if there were room).
        Changes nothing.

        Raises:
            Conflict: a task with the same id is already queued.
            InvalidParams: the task belongs to another pool.
        """
        self._check_new(task)
        victim = self._victim(task.priority) if len(self._by_id) >= self._config.capacity else None
        return self._ahead(task, arriving=True, excluded=victim)

    def _ahead(self, task: QueuedTask, *, arriving: bool, excluded: QueuedTask | None) -> Ahead:
        """Requeue lane, then the task's class under DRR, then the other class's tasks interleaved by the
        class weights. Counts are exact; the other class's tasks ahead are counted at its mean queued cost
        (exact when none or all of them are ahead), since which of them go first depends on its own DRR."""
        before, tokens = self._classes[task.priority].ahead(task, arriving=arriving, excluded=excluded)
        other_class = Priority.BATCH if task.priority is Priority.INTERACTIVE else Priority.INTERACTIVE
        other = self._classes[other_class]
        waiting, waiting_tokens = len(other.arrival), other.queued_tokens()
        if excluded is not None and other.arrival.get(excluded.task_id) is excluded:
            waiting, waiting_tokens = waiting - 1, waiting_tokens - excluded.cost
        crossing = self._scheduler.others_before(task.priority, before, waiting)
        cross_tokens = float(waiting_tokens) if crossing == waiting else crossing * waiting_tokens / waiting
        front_tokens = sum(queued.cost for queued in self._front.values())
        return Ahead(len(self._front) + before + crossing, front_tokens + tokens + cross_tokens)

    def enqueue(self, task: QueuedTask, *, retry_after_ms: int | None = None) -> QueuedTask | None:
        """Append `task` to its (class, tenant) lane, applying the full-queue policy first.

        Returns the task evicted to make room (the caller ends it with QUEUE_FULL_DROP_LRU), or None.

        Raises:
            Conflict: a task with the same id is already queued.
            InvalidParams: the task belongs to another pool.
            AdmissionReject: the queue is full and the policy refuses the arrival; carries
                `retry_after_ms` and the policy label.
        """
        self._check_new(task)
        evicted = (
            self._make_room(task.priority, retry_after_ms)
            if len(self._by_id) >= self._config.capacity
            else None
        )
        self._classes[task.priority].add(task)
        self._track(task)
        return evicted

    def requeue_front(self, task: QueuedTask, *, retry_after_ms: int | None = None) -> QueuedTask | None:
        """Put a dispatched task back at the head of the queue, ahead of every other task (ORCH-4002).

        Used when its replica failed before any token reached the client. The requeue lane is served
        before the fair order. A full queue applies its policy as for an arrival (the requeued task itself
        is never the victim); returns the evicted task, or None.

        Raises:
            Conflict: the task is still queued.
            InvalidParams: the task belongs to another pool.
            AdmissionReject: the queue is full and the policy refuses it.
        """
        self._check_new(task)
        evicted = (
            self._make_room(task.priority, retry_after_ms)
            if len(self._by_id) >= self._config.capacity
            else None
        )
        self._front[task.task_id] = task
        self._front.move_to_end(task.task_id, last=False)
        self._track(task)
        return evicted

    def cancel(self, task_id: str) -> QueuedTask | None:
        """Remove a queued task at once (ORCH-2007); idempotent. Returns the removed task, or None."""
        task = self._by_id.get(task_id)
        if task is None:
            return None
        self._remove(task)
        return task

    def next_task(self, now_ms: float) -> Dequeued:
        """Take the next task in fair order, first ending every task whose deadline has passed.

        Order: the requeue lane (latest requeue first), then the class chosen by the weighted class
        scheduler, then the tenant chosen by deficit round robin, then that tenant's oldest task.
        """
        deadlines = self._deadlines
        expired = self.expire_due(now_ms) if deadlines and deadlines[0][0] <= now_ms else ()
        if self._front:
            requeued = self._front.popitem(last=False)[1]
            del self._by_id[requeued.task_id]
            return Dequeued(requeued, expired)
        interactive = self._classes[Priority.INTERACTIVE]
        batch = self._classes[Priority.BATCH]
        priority = self._scheduler.choose(bool(interactive.arrival), bool(batch.arrival))
        if priority is None:
            return Dequeued(None, expired)
        task = (interactive if priority is Priority.INTERACTIVE else batch).pop_fair()
        if task is None:  # unreachable while lanes and arrival order agree
            return Dequeued(None, expired)
        del self._by_id[task.task_id]
        self._scheduler.record(priority)
        return Dequeued(task, expired)

    def expire_due(self, now_ms: float) -> tuple[QueuedTask, ...]:
        """Remove and return, earliest deadline first, every queued task with `deadline_at_ms <= now_ms`.

        The caller ends them with DEADLINE_UNMET (ORCH-2202).
        """
        deadlines = self._deadlines
        by_id = self._by_id
        expired: list[QueuedTask] = []
        while deadlines and deadlines[0][0] <= now_ms:
            task = heapq.heappop(deadlines)[2]
            if by_id.get(task.task_id) is task:
                self._remove(task)
                expired.append(task)
        return tuple(expired)

    def drain(self) -> tuple[QueuedTask, ...]:
        """Remove and return every queued task (shutdown ends them with a typed error)."""
        tasks = tuple(self._by_id.values())
        for task in tasks:
            self._remove(task)
        self._deadlines.clear()
        return tasks

    def _check_new(self, task: QueuedTask) -> None:
        if task.task_id in self._by_id:
            raise Conflict(f"task {task.task_id} is already queued", pool_id=task.pool_id)
        if task.pool_id != self._pool_id:
            raise InvalidParams(f"task {task.task_id} belongs to pool {task.pool_id}, not {self._pool_id}")

    def _track(self, task: QueuedTask) -> None:
        self._by_id[task.task_id] = task
        if task.deadline_at_ms is not None:
            self._seq += 1
            heapq.heappush(self._deadlines, (task.deadline_at_ms, self._seq, task))
            if len(self._deadlines) > 2 * len(self._by_id) + 64:
                self._compact_deadlines()

    def _compact_deadlines(self) -> None:
        by_id = self._by_id
        live = [entry for entry in self._deadlines if by_id.get(entry[2].task_id) is entry[2]]
        heapq.heapify(live)
        self._deadlines = live

    def _remove(self, task: QueuedTask) -> None:
        del self._by_id[task.task_id]
        if task.task_id in self._front:
            del self._front[task.task_id]
        else:
            self._classes[task.priority].remove(task)

    def _victim(self, arrival: Priority) -> QueuedTask | None:
        """The task a full queue's policy evicts for an arrival of class `arrival`; None: it refuses."""
        policy = self._config.policy
        if policy is FullPolicy.DROP_LRU:
            return self._oldest(Priority.BATCH) or self._oldest(Priority.INTERACTIVE)
        if policy is FullPolicy.SHED_LOW_PRIORITY and arrival is Priority.INTERACTIVE:
            return self._newest(Priority.BATCH)
        return None

    def refuses_every_arrival(self) -> bool:
        """Full under policy `reject`, which refuses an arrival without evicting anything."""
        return self._config.policy is FullPolicy.REJECT and len(self._by_id) >= self._config.capacity

    def refusal(self, retry_after_ms: int | None) -> AdmissionReject:
        """The ADMISSION_REJECT this queue answers an arrival it has no room for (ORCH-2001)."""
        return full_queue_refusal(self._pool_id, self._config, retry_after_ms)

    def _make_room(self, arrival: Priority, retry_after_ms: int | None) -> QueuedTask:
        victim = self._victim(arrival)
        if victim is None:
            raise self.refusal(retry_after_ms)
        self._remove(victim)
        return victim

    def _oldest(self, priority: Priority) -> QueuedTask | None:
        arrival = self._classes[priority].arrival
        return next(iter(arrival.values())) if arrival else None

    def _newest(self, priority: Priority) -> QueuedTask | None:
        arrival = self._classes[priority].arrival
        return next(reversed(arrival.values())) if arrival else None


def full_queue_refusal(pool_id: str, config: QueueConfig, retry_after_ms: int | None) -> AdmissionReject:
    """The ADMISSION_REJECT of a full queue of `pool_id` that has no room for an arrival (ORCH-2001)."""
    return AdmissionReject(
        f"queue is full ({config.capacity} tasks, policy {config.policy.value})",
        pool_id=pool_id,
        retry_after_ms=retry_after_ms,
        policy_label=config.policy.value,
    )


def _prefix(lane: OrderedDict[str, QueuedTask], target: QueuedTask, lane_tokens: int) -> tuple[int, int]:
    """How many tasks, and their tokens, precede `target` in `lane` (whose tasks total `lane_tokens`).

    Walks from both ends at once, so it costs O(distance to the nearer end)."""
    before = tokens = behind = behind_tokens = 0
    for head, tail in zip(lane.values(), reversed(lane.values()), strict=True):
        if head is target:
            return before, tokens
        if tail is target:
            return len(lane) - behind - 1, lane_tokens - behind_tokens - target.cost
        before, tokens = before + 1, tokens + head.cost
        behind, behind_tokens = behind + 1, behind_tokens + tail.cost
    return before, tokens


def _fitting(
    lane: OrderedDict[str, QueuedTask], credit: int, count: int, total: int, skip: QueuedTask | None
) -> tuple[int, int]:
    """How many head tasks of `lane` (`count` tasks, `total` tokens, without `skip`) fit in `credit`
    tokens, and their tokens; walks from the nearer end of the boundary."""
    if credit >= total:
        return count, total
    if 2 * credit >= total:  # most of the lane fits: drop tasks from the tail
        for task in reversed(lane.values()):
            if total <= credit:
                break
            if task is not skip:
                total, count = total - task.cost, count - 1
        return count, total
    served = tokens = 0
    for task in lane.values():
        if task is skip:
            continue
        if tokens + task.cost > credit:
            break
        served, tokens = served + 1, tokens + task.cost
    return served, tokens
