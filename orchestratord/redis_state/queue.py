"""One pool's bounded fair queue in Redis, shared by every orchestratord instance (ORCH-4101).

The same queue as `orchestrator_core.queue.PoolQueue`, operation for operation: capacity and the full-queue
policies, the requeue lane, class weights, tenant DRR and deadlines. Each operation is one call of
`queue.lua`, which Redis runs atomically, so instances never race on a read-modify-write. A task travels as
the JSON of its `QueuedTask` fields, which the script decodes but never re-encodes.

Queue positions (`ahead_of`, `ahead_if_enqueued`) are counted in arrival order across every instance: the
requeue lane, then every task queued earlier, whatever its class and tenant (ORCH-4107). What a caller reads
without awaiting (`len`, the depths) is the last answer Redis gave this instance, renewed by `refresh`.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import orjson
from redis.asyncio import Redis

from orchestrator_core.errors import AdmissionReject, Conflict, InvalidParams, NotFound
from orchestrator_core.queue import Ahead, Dequeued, FullPolicy, QueueConfig, full_queue_refusal
from orchestrator_core.task import Priority, QueuedTask

from .keys import queue_key

SCRIPT = files(__package__).joinpath("queue.lua").read_text()


def encode(task: QueuedTask) -> bytes:
    return orjson.dumps(
        {
            "task_id": task.task_id,
            "tenant": task.tenant,
            "pool_id": task.pool_id,
            "priority": task.priority.value,
            "estimated_tokens": task.estimated_tokens,
            "cost": task.cost,
            "enqueued_ms": task.enqueued_ms,
            "deadline_at_ms": task.deadline_at_ms,
            "session_id": task.session_id,
        }
    )


def decode(blob: bytes) -> QueuedTask:
    fields: dict[str, Any] = orjson.loads(blob)
    return QueuedTask(
        task_id=fields["task_id"],
        tenant=fields["tenant"],
        pool_id=fields["pool_id"],
        priority=Priority(fields["priority"]),
        estimated_tokens=fields["estimated_tokens"],
        enqueued_ms=fields["enqueued_ms"],
        deadline_at_ms=fields["deadline_at_ms"],
        session_id=fields["session_id"],
    )


def _score(value: float | None) -> str:
    """A ZSET score spelled exactly (repr round-trips a float)."""
    return repr(float(value)) if value is not None else ""


class RedisTaskQueue:
    """The queue of pool `pool_id` under `prefix`, on a redis-py asyncio client (bytes replies); the
    tasks this instance takes are recorded as taken by `taker` until they end or are requeued."""

    def __init__(
        self, redis: Redis, pool_id: str, config: QueueConfig, prefix: str = "orch", taker: str = ""
    ) -> None:
        self._redis = redis
        self._pool_id = pool_id
        self._config = config
        self._taker = taker
        self._keys = [queue_key(prefix, pool_id)]
        self._script = redis.register_script(SCRIPT)
        self._depths = (0, 0, 0, 0)

    @property
    def pool_id(self) -> str:
        return self._pool_id

    @property
    def config(self) -> QueueConfig:
        return self._config

    async def _call(self, *args: str | bytes | int) -> Any:
        return await self._script(keys=self._keys, args=list(args))

    def __len__(self) -> int:
        return self._depths[0]

    def depth(self, priority: Priority) -> int:
        return self._depths[1] if priority is Priority.INTERACTIVE else self._depths[2]

    def requeued_depth(self) -> int:
        return self._depths[3]

    async def refresh(self) -> int:
        """Reads the depths again (any instance may have changed them); the number of queued tasks."""
        self._depths = await self.depths()
        return self._depths[0]

    def _seen_total(self, total: int) -> None:
        if total != self._depths[0]:
            self._depths = (int(total), *self._depths[1:])

    async def ahead_of(self, task_id: str) -> Ahead:
        """The work queued before `task_id`, in arrival order (the requeue lane first).

        Raises:
            NotFound: the task is not queued here.
        """
        found, tasks, tokens = await self._call("ahead", task_id)
        if not found:
            raise NotFound(f"task {task_id} is not queued in pool {self._pool_id}", pool_id=self._pool_id)
        return Ahead(int(tasks), float(tokens))

    async def ahead_if_enqueued(self, task: QueuedTask) -> Ahead:
        """The work before `task` were it enqueued now: all that is queued but the victim it would evict.

        Raises:
            Conflict: a task with the same id is already queued.
            InvalidParams: the task belongs to another pool.
        """
        return await self._ahead_new(task, refuse_full=False, retry_after_ms=None)

    async def ahead_if_admitted(self, task: QueuedTask, retry_after_ms: int | None) -> Ahead:
        """`ahead_if_enqueued`, refusing first, in the same call, a task without a deadline that the full
        queue refuses whatever arrives (`refuses_every_arrival`).

        Raises:
            AdmissionReject: the queue is full under policy `reject` and the task has no deadline.
            Conflict, InvalidParams: as `ahead_if_enqueued`.
        """
        refuse_full = task.deadline_at_ms is None and self._config.policy is FullPolicy.REJECT
        return await self._ahead_new(task, refuse_full=refuse_full, retry_after_ms=retry_after_ms)

    async def _ahead_new(self, task: QueuedTask, *, refuse_full: bool, retry_after_ms: int | None) -> Ahead:
        self._check_pool(task)
        config = self._config
        status, tasks, tokens = await self._call(
            "ahead_new", encode(task), config.capacity, config.policy.value, "1" if refuse_full else ""
        )
        if status == b"full":
            raise self.refusal(retry_after_ms)
        if status == b"conflict":
            raise Conflict(f"task {task.task_id} is already queued", pool_id=task.pool_id)
        return Ahead(int(tasks), float(tokens))

    async def refuses_every_arrival(self) -> bool:
        """Full under policy `reject`, which refuses an arrival without evicting anything."""
        if self._config.policy is not FullPolicy.REJECT:
            return False
        return await self.refresh() >= self._config.capacity

    def _check_pool(self, task: QueuedTask) -> None:
        if task.pool_id != self._pool_id:
            raise InvalidParams(f"task {task.task_id} belongs to pool {task.pool_id}, not {self._pool_id}")

    async def enqueue(self, task: QueuedTask, *, retry_after_ms: int | None = None) -> QueuedTask | None:
        """Append `task` to its lane, applying the full-queue policy first; the evicted task, or None.

        Raises:
            Conflict: a task with the same id is already queued.
            InvalidParams: the task belongs to another pool.
            AdmissionReject: the queue is full and the policy refuses the arrival.
        """
        return await self._admit("enqueue", task, retry_after_ms)

    async def enqueue_ahead(
        self, task: QueuedTask, *, retry_after_ms: int | None = None
    ) -> tuple[Ahead, QueuedTask | None]:
        """`ahead_if_admitted` and `enqueue` in one call, for a task without a deadline (nothing between
        the two can refuse it): the work ahead of it and the evicted task, or None.

        Raises:
            AdmissionReject, Conflict, InvalidParams: as `ahead_if_admitted` and `enqueue`.
        """
        self._check_pool(task)
        assert task.deadline_at_ms is None  # a deadline is checked against the prediction first
        config = self._config
        refuse_full = "1" if config.policy is FullPolicy.REJECT else ""
        answer = await self._call(
            "enqueue_ahead", encode(task), config.capacity, config.policy.value, "", refuse_full
        )
        evicted = self._admitted(answer, task, retry_after_ms)
        return Ahead(int(answer[3]), float(answer[4])), evicted

    async def requeue_front(
        self, task: QueuedTask, *, retry_after_ms: int | None = None
    ) -> QueuedTask | None:
        """Put a dispatched task back at the head of the queue (ORCH-4002); the evicted task, or None."""
        return await self._admit("requeue", task, retry_after_ms)

    async def _admit(self, op: str, task: QueuedTask, retry_after_ms: int | None) -> QueuedTask | None:
        self._check_pool(task)
        config = self._config
        answer = await self._call(
            op, encode(task), config.capacity, config.policy.value, _score(task.deadline_at_ms)
        )
        return self._admitted(answer, task, retry_after_ms)

    def _admitted(self, answer: list[Any], task: QueuedTask, retry_after_ms: int | None) -> QueuedTask | None:
        """The evicted task of an admission script's answer ({status, evicted, total, ...}), or the
        refusal it stands for."""
        status = answer[0]
        if status == b"conflict":
            raise Conflict(f"task {task.task_id} is already queued", pool_id=task.pool_id)
        if status == b"full":
            raise self.refusal(retry_after_ms)
        self._seen_total(answer[2])
        return decode(answer[1]) if answer[1] else None

    def refusal(self, retry_after_ms: int | None) -> AdmissionReject:
        """The ADMISSION_REJECT this queue answers an arrival it has no room for (ORCH-2001)."""
        return full_queue_refusal(self._pool_id, self._config, retry_after_ms)

    async def cancel(self, task_id: str) -> QueuedTask | None:
        """Remove a queued task at once (ORCH-2007); idempotent. The removed task, or None."""
        blob = await self._call("cancel", task_id)
        return decode(blob) if blob else None

    async def next_task(self, now_ms: float) -> Dequeued:
        """The next task in fair order, every task past its deadline removed first (ORCH-2202)."""
        config = self._config
        answer = await self._call(
            "next",
            _score(now_ms),
            config.interactive_weight,
            config.batch_weight,
            config.min_quantum_tokens,
            self._taker,
        )
        self._seen_total(answer[0])
        task = decode(answer[1]) if answer[1] else None
        return Dequeued(task, tuple(decode(blob) for blob in answer[2:]))

    async def expire_due(self, now_ms: float) -> tuple[QueuedTask, ...]:
        """Remove and return, earliest deadline first, every task with `deadline_at_ms <= now_ms`."""
        return tuple(decode(blob) for blob in await self._call("expire", _score(now_ms)))

    async def drain(self) -> tuple[QueuedTask, ...]:
        """Remove and return every queued task, in the order they were queued."""
        return tuple(decode(blob) for blob in await self._call("drain"))

    async def depths(self) -> tuple[int, int, int, int]:
        """(all queued, interactive in fair order, batch in fair order, requeue lane)."""
        total, interactive, batch, front = await self._call("depth")
        return int(total), int(interactive), int(batch), int(front)

    async def takers(self) -> set[str]:
        """The instances that hold tasks taken from this queue (not yet ended or requeued)."""
        owners: list[Any] = await self._redis.hvals(self._keys[0] + "taken")
        return {bytes(owner).decode() for owner in owners}

    async def reap(self, taker: str) -> tuple[QueuedTask, ...]:
        """The tasks `taker` took and neither ended nor requeued, now nobody's: the caller, the only one
        they are answered to, requeues or ends each (ORCH-4112)."""
        return tuple(decode(blob) for blob in await self._call("reap", taker) if blob)

    async def get(self, task_id: str) -> QueuedTask | None:
        blob: bytes | None = await self._redis.hget(self._keys[0] + "tasks", task_id)  # type: ignore[assignment]
        return decode(blob) if blob else None
