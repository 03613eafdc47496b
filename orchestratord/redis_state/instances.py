"""Which orchestratord instances are alive, and what becomes of the tasks of one that died (ORCH-4112).

Every instance keeps a key of its own alive, renewing its TTL (the slot lease TTL) three times per TTL. A
task an instance takes from a shared queue stays recorded as taken by it until it ends or is requeued. Every
instance looks, every half TTL, for tasks taken by an instance whose key has lapsed (it was killed, or cut
off from Redis, whose leases lapse at the same time): the first to find them reaps them atomically, so each
such task is handled once; one never started goes back to its queue head, one that ran ends with
WORKER_RESET, its last event written to its stream.

An instance's id for this is its configured `instance_id` plus a random suffix per process: a restarted
instance with the same configuration is a new one, and the tasks of the one that died are reaped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import Redis

from orchestrator_core.errors import StateUnavailable

from .keys import instance_key
from .queue import RedisTaskQueue
from .shared_tasks import SharedTasks

logger = logging.getLogger(__name__)


class InstanceLiveness:
    """The alive keys of the instances under `prefix`; this one's is `instance_id`'s."""

    def __init__(self, redis: Redis, *, prefix: str, instance_id: str, ttl_ms: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self.instance_id = instance_id
        self.ttl_ms = ttl_ms

    async def beat(self) -> None:
        """This instance is alive for one more TTL."""
        await self._redis.set(instance_key(self._prefix, self.instance_id), b"1", px=self.ttl_ms)

    async def alive(self, instance_ids: Iterable[str]) -> set[str]:
        """Those of `instance_ids` whose key has not lapsed."""
        ids = sorted(set(instance_ids))
        if not ids:
            return set()
        found: list[Any] = await self._redis.mget([instance_key(self._prefix, i) for i in ids])
        return {instance_id for instance_id, value in zip(ids, found, strict=True) if value is not None}

    async def keep_beating(self) -> None:
        """Beats three times per TTL until canceled; an outage of Redis is waited out."""
        while True:
            try:
                await self.beat()
            except StateUnavailable:
                pass  # the key lapses unless a later beat gets through; the leases lapse alike
            await asyncio.sleep(self.ttl_ms / 3000)


class Reaper:
    """Finds the tasks that dead instances had taken from the shared queues and hands them on."""

    def __init__(
        self,
        *,
        liveness: InstanceLiveness,
        queues: Callable[[], Iterable[RedisTaskQueue]],
        shared: SharedTasks,
    ) -> None:
        self._liveness = liveness
        self._queues = queues
        self._shared = shared

    async def reap_once(self) -> int:
        """One look at every queue; how many tasks of dead instances were requeued or ended."""
        handled = 0
        me = self._liveness.instance_id
        for queue in list(self._queues()):
            takers = await queue.takers()
            takers.discard(me)
            dead = takers - await self._liveness.alive(takers)
            for instance_id in sorted(dead):
                tasks = await queue.reap(instance_id)
                if tasks:
                    logger.warning(
                        "instance %s stopped holding %d task(s) of pool %s: reaping them",
                        instance_id,
                        len(tasks),
                        queue.pool_id,
                    )
                for task in tasks:
                    if await self._shared.reclaim(task, instance_id, queue.requeue_front):
                        handled += 1
        return handled

    async def run(self) -> None:
        """Reaps every half TTL until canceled."""
        while True:
            await asyncio.sleep(self._liveness.ttl_ms / 2000)
            try:
                await self.reap_once()
            except StateUnavailable:
                pass  # nothing can be reaped while Redis does not answer
            except Exception:  # a failed round is logged; the next one may succeed
                logger.exception("reaping the tasks of dead instances failed")
