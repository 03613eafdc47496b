"""Several instances share one Redis queue: concurrent arrivals never overfill it, concurrent dispatchers
never take a task twice or lose one (ORCH-4101). Each instance is its own client and connection pool."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from orchestrator_core.errors import AdmissionReject
from orchestrator_core.queue import QueueConfig
from orchestrator_core.task import Priority, QueuedTask
from orchestratord.redis_state.queue import RedisTaskQueue
from tests.redis_support import RedisServer

INSTANCES = 4


def task(instance: int, number: int) -> QueuedTask:
    return QueuedTask(
        task_id=f"i{instance}-t{number}",
        tenant=f"tenant-{number % 3}",
        pool_id="pool-a",
        priority=Priority.BATCH if number % 4 == 0 else Priority.INTERACTIVE,
        estimated_tokens=16 + number,
    )


async def instances(url: str, config: QueueConfig) -> list[tuple[Redis, RedisTaskQueue]]:
    made = []
    for _ in range(INSTANCES):
        client = Redis.from_url(url)
        made.append((client, RedisTaskQueue(client, "pool-a", config, prefix="share")))
    return made


@pytest.mark.req("ORCH-4101", "ORCH-2001")
async def test_concurrent_arrivals_fill_the_shared_queue_exactly_to_capacity(
    redis: Redis, redis_process: RedisServer
) -> None:
    shared = await instances(redis_process.url, QueueConfig(capacity=120))

    async def submit(instance: int, queue: RedisTaskQueue) -> tuple[int, int]:
        admitted = refused = 0
        for number in range(50):
            try:
                await queue.enqueue(task(instance, number), retry_after_ms=500)
                admitted += 1
            except AdmissionReject as error:
                assert error.policy_label == "reject" and error.retry_after_ms == 500
                refused += 1
        return admitted, refused

    try:
        counts = await asyncio.gather(*(submit(i, q) for i, (_, q) in enumerate(shared)))
        assert sum(a for a, _ in counts) == 120 and sum(r for _, r in counts) == 80
        assert (await shared[0][1].depths())[0] == 120
    finally:
        for client, _ in shared:
            await client.aclose()


@pytest.mark.req("ORCH-4101", "ORCH-2007")
async def test_concurrent_dispatchers_take_every_task_exactly_once(
    redis: Redis, redis_process: RedisServer
) -> None:
    shared = await instances(redis_process.url, QueueConfig(capacity=1000))
    submitted = {task(i, n).task_id for i in range(INSTANCES) for n in range(60)}
    try:
        await asyncio.gather(*(shared[i][1].enqueue(task(i, n)) for i in range(INSTANCES) for n in range(60)))
        canceled = {f"i0-t{n}" for n in range(0, 60, 5)}

        async def dispatch(queue: RedisTaskQueue) -> list[str]:
            taken: list[str] = []
            while (next_one := (await queue.next_task(0.0)).task) is not None:
                taken.append(next_one.task_id)
            return taken

        cancels = [shared[1][1].cancel(task_id) for task_id in canceled]
        results = await asyncio.gather(*(dispatch(q) for _, q in shared), *cancels)
        taken = [task_id for batch in results[:INSTANCES] for task_id in batch]  # type: ignore[union-attr]
        removed = {t.task_id for t in results[INSTANCES:] if t is not None}  # type: ignore[union-attr]
        assert len(taken) == len(set(taken)), "a task was dispatched twice"
        assert set(taken) | removed == submitted and not set(taken) & removed
        assert await shared[2][1].depths() == (0, 0, 0, 0)
    finally:
        for client, _ in shared:
            await client.aclose()
