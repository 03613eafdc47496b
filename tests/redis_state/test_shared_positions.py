"""A shared queue counts positions across instances (ORCH-4107): a task's position is the requeue lane
plus every task any instance queued before it, and an arrival's is everything queued but the task its
arrival would evict."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from orchestrator_core.errors import Conflict, NotFound
from orchestrator_core.queue import FullPolicy, QueueConfig
from orchestrator_core.task import Priority, QueuedTask
from orchestratord.redis_state.queue import RedisTaskQueue
from tests.redis_support import RedisServer


def task(
    task_id: str, tenant: str = "t1", priority: Priority = Priority.INTERACTIVE, tokens: int = 10
) -> QueuedTask:
    return QueuedTask(
        task_id=task_id, tenant=tenant, pool_id="pool-a", priority=priority, estimated_tokens=tokens
    )


@pytest.mark.req("ORCH-4107")
async def test_positions_count_what_every_instance_queued_before_the_task(
    redis: Redis, redis_process: RedisServer
) -> None:
    other = Redis.from_url(redis_process.url)
    try:
        config = QueueConfig(capacity=10)
        mine = RedisTaskQueue(redis, "pool-a", config, prefix="pos")
        theirs = RedisTaskQueue(other, "pool-a", config, prefix="pos")
        await mine.enqueue(task("a", tokens=5))
        await theirs.enqueue(task("b", tenant="t2", priority=Priority.BATCH, tokens=7))
        await mine.enqueue(task("c", tokens=11))
        await theirs.requeue_front(task("r", tokens=3))
        assert await mine.ahead_of("r") == (0, 0.0)
        assert await mine.ahead_of("a") == (1, 3.0)
        assert await theirs.ahead_of("c") == (3, 15.0)
        assert await mine.ahead_if_enqueued(task("d")) == (4, 26.0)
        with pytest.raises(NotFound):
            await mine.ahead_of("unknown")
        with pytest.raises(Conflict):
            await theirs.ahead_if_enqueued(task("a"))
        assert await theirs.refresh() == 4 and len(theirs) == 4
        assert len(mine) == 3  # the last answer this instance saw, until it refreshes
        assert await mine.refresh() == 4
        assert mine.depth(Priority.INTERACTIVE) == 2 and mine.depth(Priority.BATCH) == 1
        assert mine.requeued_depth() == 1
    finally:
        await other.aclose()


@pytest.mark.req("ORCH-4107", "ORCH-2001")
async def test_a_full_queue_counts_an_arrival_without_its_victim_and_reject_refuses_all(redis: Redis) -> None:
    lru = RedisTaskQueue(redis, "pool-a", QueueConfig(capacity=2, policy=FullPolicy.DROP_LRU), prefix="lru")
    await lru.enqueue(task("old", tokens=4))
    await lru.enqueue(task("new", tokens=6))
    assert await lru.ahead_if_enqueued(task("next")) == (1, 6.0)
    assert not await lru.refuses_every_arrival()
    strict = RedisTaskQueue(redis, "pool-a", QueueConfig(capacity=1), prefix="strict")
    assert not await strict.refuses_every_arrival()
    await strict.enqueue(task("only"))
    assert await strict.refuses_every_arrival()
