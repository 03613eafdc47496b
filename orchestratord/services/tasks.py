"""TaskService: what the HTTP surfaces (native API and the OpenAI facade) do with tasks.

submit -> admission; status; cancel (queued or running, idempotent); follow (SSE frames with reader
accounting and the disconnect grace period, ORCH-1013, ORCH-1015, ORCH-1030, ORCH-1031).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from orchestrator_core.errors import NotFound
from orchestrator_core.stores import TaskQueue

from .admission import AdmissionService
from .behind import WriteBehind
from .lifecycle import TaskLifecycle
from .logs import EventLog
from .metrics import DaemonMetrics
from .state import QueueStore, SharedTaskState, TaskStore
from .task_registry import Admission, TaskRecord
from .task_spec import TaskSpec, TaskState
from .transcript import EVICTED, TextBatch


class TaskService:
    """The task operations of the data plane, for one tenant at a time."""

    def __init__(
        self,
        *,
        admission: AdmissionService,
        registry: TaskStore,
        queues: QueueStore,
        lifecycle: TaskLifecycle,
        log: EventLog,
        metrics: DaemonMetrics,
        disconnect_grace_s: float,
        shared: SharedTaskState | None = None,
    ) -> None:
        self._shared = shared
        self._metrics = metrics
        self._admission = admission
        self._registry = registry
        self._queues = queues
        self._lifecycle = lifecycle
        self._log = log
        self._grace_s = disconnect_grace_s
        self._ending = WriteBehind()

    async def submit(self, spec: TaskSpec, correlation_id: str | None = None) -> Admission:
        """Admits a task (or returns the earlier admission of an identical one); raises the typed refusal."""
        return await self._admission.admit(spec, correlation_id)

    async def get(self, task_id: str, tenant: str | None, *, fresh: bool = True) -> TaskRecord:
        """The task's record; another tenant's task is NotFound, like an unknown one (None: any tenant).
        In the shared mode the record is the freshest any instance reported (not `fresh`: the local one
        when there is one, for a reader whose stream brings the rest)."""
        if self._shared is None:
            record = self._registry.find(task_id)
        else:
            record = await self._shared.lookup(task_id, fresh=fresh)
        if record is None or tenant not in (None, record.spec.tenant):
            raise NotFound(f"unknown task {task_id}")
        return record

    async def readable(self, task_id: str, tenant: str | None) -> TaskRecord:
        """The record of a task whose stream can be read; an evicted transcript is NotFound (ORCH-1016)."""
        record = await self.get(task_id, tenant, fresh=False)
        if record.transcript.evicted:
            raise NotFound(f"task {task_id}: {EVICTED}")
        return record

    async def queue_position(self, record: TaskRecord) -> int | None:
        """Where a queued task stands now: the core's count of the tasks the fair order dispatches before
        it (ORCH-2206), from the queue that holds it (a re-queue may have moved it, ORCH-2012); None
        once it is in no queue."""
        if record.state is not TaskState.QUEUED:
            return None
        holders: list[TaskQueue] = [self._queues.get(record.queued.pool_id), *self._queues]
        for queue in holders:
            try:
                return (await queue.ahead_of(record.task_id)).tasks
            except NotFound:
                continue
        return None

    async def cancel(self, task_id: str, tenant: str | None, reason: str = "client") -> None:
        """Cancels a queued or running task; a finished one is left as it is (idempotent)."""
        record = await self.get(task_id, tenant)
        await self.cancel_record(record, reason)

    async def cancel_record(self, record: TaskRecord, reason: str = "client") -> None:
        if record.state.terminal:
            return
        if self._shared is not None and not self._shared.runs_here(record):
            await self._cancel_elsewhere(record, reason)
            return
        # Closing the transcript first guarantees no token is published after the acknowledgement; the
        # dispatcher skips a terminal record it still finds queued.
        self._lifecycle.canceled(record)
        await self._queues.get(record.queued.pool_id).cancel(record.task_id)
        if record.runner is not None and not record.runner.done():
            record.runner.cancel(f"task canceled: {reason}")
        self._log.event("task.canceled", task_id=record.task_id, tenant=record.spec.tenant, reason=reason)

    async def _cancel_elsewhere(self, record: TaskRecord, reason: str) -> None:
        """A task this instance does not run (shared mode): taken out of its queue and ended here, or
        canceled by the instance that took it (ORCH-4109)."""
        assert self._shared is not None
        if await self._queues.get(record.queued.pool_id).cancel(record.task_id) is not None:
            self._lifecycle.canceled(record)
        else:
            await self._shared.request_cancel(record.task_id)
        self._log.event("task.canceled", task_id=record.task_id, tenant=record.spec.tenant, reason=reason)

    async def follow(
        self,
        record: TaskRecord,
        last_index: int | None = None,
        *,
        verbose: bool = False,
        heartbeat_s: float | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """SSE frames of the task (`Transcript.follow`); when the last reader leaves early the grace timer
        starts."""
        self._attach(record)
        frames = record.transcript.follow(last_index, verbose=verbose, heartbeat_s=heartbeat_s)
        try:
            async with contextlib.aclosing(frames):
                async for chunk in frames:
                    yield chunk
        finally:
            self._detach(record)

    async def follow_text(
        self, record: TaskRecord, *, heartbeat_s: float | None = None
    ) -> AsyncGenerator[TextBatch | None, None]:
        """The task's typed batches for a relay (`Transcript.follow_text`), counted as a stream reader."""
        self._attach(record)
        batches = record.transcript.follow_text(heartbeat_s=heartbeat_s)
        try:
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    yield batch
        finally:
            self._detach(record)

    def _attach(self, record: TaskRecord) -> None:
        self._metrics.stream_opened()
        if self._shared is not None:
            self._shared.watch(record)
        if record.grace_timer is not None:
            record.grace_timer.cancel()
            record.grace_timer = None

    def _detach(self, record: TaskRecord) -> None:
        """After a reader left: the transcript counts readers (one count for every reader, whatever its
        protocol); when none is left and the task still runs, it gets the disconnect grace (ORCH-1015)."""
        self._metrics.stream_closed()
        if record.transcript.readers > 0 or record.state.terminal:
            return
        loop = asyncio.get_running_loop()
        record.grace_timer = loop.call_later(self._grace_s, self._grace_expired, record)

    def _grace_expired(self, record: TaskRecord) -> None:
        record.grace_timer = None
        if record.transcript.readers == 0 and not record.state.terminal:
            self._ending.submit(self.cancel_record(record, reason="client disconnected"))
