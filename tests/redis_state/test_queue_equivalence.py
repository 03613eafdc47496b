"""The Redis queue is the in-memory queue, shared: a Hypothesis state machine drives `PoolQueue` and
`RedisTaskQueue` (on a real redis-server) with the same operations and asserts the same answers, the same
evictions and refusals, and the same dispatch order (ORCH-4101)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule, run_state_machine_as_test

from orchestrator_core.errors import OrchError
from orchestrator_core.queue import FullPolicy, PoolQueue, QueueConfig
from orchestrator_core.stores import LocalQueue
from orchestrator_core.task import Priority, QueuedTask
from orchestratord.redis_state.queue import RedisTaskQueue
from tests.redis_support import RedisMachine, RedisServer

POOL = "pool-a"
T = TypeVar("T")


def outcome(call: Callable[[], T]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except OrchError as error:
        return "error", (type(error).__name__, error.code, error.policy_label, error.retry_after_ms)


async def outcome_async(call: Callable[[], Awaitable[T]]) -> tuple[str, Any]:
    try:
        return "ok", await call()
    except OrchError as error:
        return "error", (type(error).__name__, error.code, error.policy_label, error.retry_after_ms)


class SameQueue(RedisMachine):
    """Both queues, fed the same operations; `url` is the redis-server of the run."""

    def __init__(self) -> None:
        super().__init__()
        self.memory: PoolQueue | None = None
        self.shared: RedisTaskQueue | None = None
        self.now = 1_733_000_000_000.25
        self.next_id = 0
        self.dispatched: list[QueuedTask] = []

    @initialize(
        capacity=st.integers(1, 6),
        policy=st.sampled_from(list(FullPolicy)),
        weights=st.tuples(st.integers(1, 4), st.integers(1, 3)),
        quantum=st.sampled_from([1, 7, 64, 4096]),
    )
    def configure(self, capacity: int, policy: FullPolicy, weights: tuple[int, int], quantum: int) -> None:
        config = QueueConfig(capacity, policy, weights[0], weights[1], quantum)
        self.memory = PoolQueue(POOL, config)
        self.shared = RedisTaskQueue(self.client, POOL, config, prefix="eq")

    def same(self, memory: tuple[str, Any], shared: tuple[str, Any]) -> None:
        assert memory == shared

    @rule(
        tenant=st.sampled_from(["t1", "t2", "t3"]),
        priority=st.sampled_from(list(Priority)),
        tokens=st.integers(0, 5000),
        deadline=st.none() | st.floats(0, 200, allow_nan=False),
        retry_after=st.none() | st.integers(100, 5000),
    )
    def enqueue(
        self,
        tenant: str,
        priority: Priority,
        tokens: int,
        deadline: float | None,
        retry_after: int | None,
    ) -> None:
        assert self.memory is not None and self.shared is not None
        self.next_id += 1
        task = QueuedTask(
            task_id=f"task-{self.next_id}",
            tenant=tenant,
            pool_id=POOL,
            priority=priority,
            estimated_tokens=tokens,
            enqueued_ms=self.now,
            deadline_at_ms=None if deadline is None else self.now + deadline,
            session_id=None if self.next_id % 3 else f"s-{tenant}",
        )
        memory, shared = self.memory, self.shared
        self.same(
            outcome(lambda: memory.enqueue(task, retry_after_ms=retry_after)),
            self.run(outcome_async(lambda: shared.enqueue(task, retry_after_ms=retry_after))),
        )

    @rule(
        tenant=st.sampled_from(["t1", "t2", "t3"]),
        priority=st.sampled_from(list(Priority)),
        tokens=st.integers(0, 5000),
        retry_after=st.none() | st.integers(100, 5000),
    )
    def enqueue_ahead(self, tenant: str, priority: Priority, tokens: int, retry_after: int | None) -> None:
        """An admission without a deadline asks the work ahead and enqueues in one call: the same
        refusals and evictions as the in-memory queue's two steps."""
        assert self.memory is not None and self.shared is not None
        self.next_id += 1
        task = QueuedTask(
            task_id=f"task-{self.next_id}",
            tenant=tenant,
            pool_id=POOL,
            priority=priority,
            estimated_tokens=tokens,
            enqueued_ms=self.now,
        )
        local, shared = LocalQueue(self.memory), self.shared
        queued, full = len(self.memory), len(self.memory) >= self.memory.config.capacity
        memory = self.run(outcome_async(lambda: local.enqueue_ahead(task, retry_after_ms=retry_after)))
        answered = self.run(outcome_async(lambda: shared.enqueue_ahead(task, retry_after_ms=retry_after)))
        if memory[0] != "ok":
            self.same(memory, answered)
            return
        assert answered[0] == "ok", answered
        (ahead, evicted), (_, evicted_memory) = answered[1], memory[1]
        assert evicted == evicted_memory
        assert ahead.tasks == queued - (evicted is not None) and (full or evicted is None)

    @rule(
        number=st.integers(1, 60),
        priority=st.sampled_from(list(Priority)),
        deadline=st.none() | st.floats(0, 200, allow_nan=False),
        retry_after=st.none() | st.integers(100, 5000),
    )
    def ahead_if_admitted(
        self, number: int, priority: Priority, deadline: float | None, retry_after: int | None
    ) -> None:
        """The admission's one question (the refusal of a full `reject` queue, then the work ahead), for a
        new task or one already queued (a conflict): the same refusals. The work ahead is counted in
        arrival order across the instances (ORCH-4107), not in the in-memory fair order."""
        assert self.memory is not None and self.shared is not None
        task = QueuedTask(
            task_id=f"task-{number}",
            tenant="t1",
            pool_id=POOL,
            priority=priority,
            estimated_tokens=number * 10,
            enqueued_ms=self.now,
            deadline_at_ms=None if deadline is None else self.now + deadline,
        )
        local, shared = LocalQueue(self.memory), self.shared
        memory = self.run(outcome_async(lambda: local.ahead_if_admitted(task, retry_after)))
        answered = self.run(outcome_async(lambda: shared.ahead_if_admitted(task, retry_after)))
        if memory[0] == "ok":
            assert answered[0] == "ok", answered
            queued, full = len(self.memory), len(self.memory) >= self.memory.config.capacity
            # Everything queued, but the victim a full queue would evict for it, if it has one.
            assert answered[1].tasks in ((queued - 1, queued) if full else (queued,)), answered
        else:
            self.same(memory, answered)

    @rule(data=st.data())
    def requeue(self, data: st.DataObject) -> None:
        assert self.memory is not None and self.shared is not None
        if not self.dispatched:
            return
        task = data.draw(st.sampled_from(self.dispatched))
        memory, shared = self.memory, self.shared
        self.same(
            outcome(lambda: memory.requeue_front(task, retry_after_ms=250)),
            self.run(outcome_async(lambda: shared.requeue_front(task, retry_after_ms=250))),
        )

    @rule(number=st.integers(1, 40))
    def cancel(self, number: int) -> None:
        assert self.memory is not None and self.shared is not None
        task_id = f"task-{number}"
        self.same(("ok", self.memory.cancel(task_id)), ("ok", self.run(self.shared.cancel(task_id))))

    @rule(elapsed=st.floats(0, 80, allow_nan=False))
    def dispatch(self, elapsed: float) -> None:
        assert self.memory is not None and self.shared is not None
        self.now += elapsed
        memory = self.memory.next_task(self.now)
        shared = self.run(self.shared.next_task(self.now))
        assert memory == shared
        if memory.task is not None:
            self.dispatched.append(memory.task)

    @rule(elapsed=st.floats(0, 80, allow_nan=False))
    def expire(self, elapsed: float) -> None:
        assert self.memory is not None and self.shared is not None
        self.now += elapsed
        assert self.memory.expire_due(self.now) == self.run(self.shared.expire_due(self.now))

    @rule()
    def drain(self) -> None:
        assert self.memory is not None and self.shared is not None
        assert self.memory.drain() == self.run(self.shared.drain())

    @invariant()
    def same_depths_and_members(self) -> None:
        if self.memory is None or self.shared is None:
            return
        memory = self.memory
        expected = (
            len(memory),
            memory.depth(Priority.INTERACTIVE),
            memory.depth(Priority.BATCH),
            memory.requeued_depth(),
        )
        assert self.run(self.shared.depths()) == expected
        for number in range(1, self.next_id + 1):
            task_id = f"task-{number}"
            assert self.run(self.shared.get(task_id)) == memory.get(task_id)


@pytest.mark.req("ORCH-4101", "ORCH-4102", "ORCH-2003", "ORCH-2004", "ORCH-2005", "ORCH-2103", "ORCH-2202")
def test_the_redis_queue_answers_and_dispatches_exactly_as_the_in_memory_queue(
    redis_process: RedisServer,
) -> None:
    SameQueue.url = redis_process.url
    checks = settings(
        max_examples=60,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    run_state_machine_as_test(SameQueue, settings=checks)
