"""One bounded queue per pool, created on first use from the pool's configured queue settings: in memory
(`LocalQueue`), or whatever `make` builds (the shared queue in Redis)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from orchestrator_core.queue import PoolQueue, QueueConfig
from orchestrator_core.stores import LocalQueue, TaskQueue
from orchestrator_core.task import Priority

from .metrics import DaemonMetrics

QueueConfigFor = Callable[[str], QueueConfig]
QueueFactory = Callable[[str, QueueConfig], TaskQueue]


def local_queue(pool_id: str, config: QueueConfig) -> TaskQueue:
    return LocalQueue(PoolQueue(pool_id, config))


class TaskQueueView(Protocol):
    """What publishing a queue's depth reads of it."""

    @property
    def pool_id(self) -> str: ...
    @property
    def config(self) -> QueueConfig: ...
    def depth(self, priority: Priority) -> int: ...
    def requeued_depth(self) -> int: ...


class PoolQueues:
    """The queues of all pools, keyed by pool id."""

    def __init__(
        self, config_for: QueueConfigFor, metrics: DaemonMetrics, make: QueueFactory = local_queue
    ) -> None:
        self._config_for = config_for
        self._metrics = metrics
        self._make = make
        self._queues: dict[str, TaskQueue] = {}

    def get(self, pool_id: str) -> TaskQueue:
        queue = self._queues.get(pool_id)
        if queue is None:
            queue = self._queues[pool_id] = self._make(pool_id, self._config_for(pool_id))
        return queue

    def config_of(self, pool_id: str) -> QueueConfig:
        """The queue settings of `pool_id`, whether or not its queue exists yet (ORCH-2010)."""
        queue = self._queues.get(pool_id)
        return queue.config if queue is not None else self._config_for(pool_id)

    def __iter__(self) -> Iterator[TaskQueue]:
        return iter(list(self._queues.values()))

    def total(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def publish_depth(self, queue: TaskQueueView) -> None:
        depths = {p.value: queue.depth(p) for p in Priority}
        depths[Priority.INTERACTIVE.value] += queue.requeued_depth()
        self._metrics.set_queue(queue.pool_id, queue.config.capacity, depths)
