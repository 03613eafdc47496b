"""Graceful shutdown (ORCH-4004): stop admitting (503), end queued tasks with a typed error, let running
tasks finish until the deadline, then end the rest."""

from __future__ import annotations

import asyncio

from orchestrator_core.errors import PoolUnavailable

from .admission import AdmissionGate
from .dispatcher import Dispatcher
from .lifecycle import TaskLifecycle
from .logs import EventLog
from .requeue import Requeuer
from .state import TaskStore
from .task_registry import TaskRecord
from .task_spec import TaskState


class ShutdownCoordinator:
    """Runs the shutdown sequence once, from the app's lifespan."""

    def __init__(
        self,
        *,
        gate: AdmissionGate,
        dispatcher: Dispatcher,
        requeuer: Requeuer,
        registry: TaskStore,
        lifecycle: TaskLifecycle,
        log: EventLog,
        grace_s: float,
    ) -> None:
        self._gate = gate
        self._dispatcher = dispatcher
        self._requeuer = requeuer
        self._registry = registry
        self._lifecycle = lifecycle
        self._log = log
        self._grace_s = grace_s
        self._deadline: float | None = None  # when the runs' grace ends, on the loop's clock

    async def drain(self) -> None:
        """The shared mode's first step (ORCH-4118): this instance takes no more tasks from the shared
        queues and reports itself unready, while it goes on admitting (the other instances dispatch what
        it admits) and its runs go on, up to the grace."""
        self._gate.drain()
        self._dispatcher.stop()
        self._deadline = asyncio.get_running_loop().time() + self._grace_s
        running = len(self._running())
        self._log.event("shutdown.drain", reason=f"{running} running tasks finish here")
        await self._runs_finish()

    async def shutdown(self) -> None:
        self._gate.close()
        self._requeuer.close()
        self._dispatcher.stop()
        queued = await self._dispatcher.end_queued(
            lambda pool_id: PoolUnavailable("orchestratord is shutting down", pool_id=pool_id)
        )
        self._log.event("shutdown.begin", reason=f"{queued} queued tasks ended")
        if self._deadline is None:  # after a drain, the runs had their grace already
            self._deadline = asyncio.get_running_loop().time() + self._grace_s
        await self._runs_finish()
        for record in self._running():
            self._lifecycle.failed(
                record, PoolUnavailable("orchestratord shut down before the task finished")
            )
            if record.runner is not None:
                record.runner.cancel("shutdown deadline passed")
        self._log.event("shutdown.done")

    async def _runs_finish(self) -> None:
        """Waits for the running tasks to end, until the deadline."""
        assert self._deadline is not None
        runners = [r.runner for r in self._running() if r.runner is not None]
        timeout_s = self._deadline - asyncio.get_running_loop().time()
        if runners and timeout_s > 0:
            await asyncio.wait(runners, timeout=timeout_s)

    def _running(self) -> list[TaskRecord]:
        return [r for r in self._registry.active() if r.state is TaskState.RUNNING]
