"""Task records: state, timings, replay identity, transcript and readers (ORCH-1005, ORCH-1016, ORCH-1020).

A record outlives its task by the transcript retention period so late readers can resume; the reaper in
the app's lifespan calls `expire()`. The transcripts of finished tasks also share a byte budget: when it is
exceeded the oldest finished transcripts nobody is reading are evicted early, while their records (status,
idempotency) stay until the retention period ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator_core.errors import Conflict, NotFound, OrchError
from orchestrator_core.replica import ReplicaSetIdentity
from orchestrator_core.task import QueuedTask

from .logs import EventLog
from .metrics import DaemonMetrics
from .task_events import Ended, Failed, Outcome, ReplayIdentity, TaskStopReason
from .task_spec import TaskSpec, TaskState
from .transcript import Transcript

Clock = Callable[[], float]


@dataclass(slots=True)
class Admission:
    """The 202 answer given for a task; a repeated identical submission gets it again."""

    task_id: str
    queue_position: int
    predicted_start_ms: int
    backoff_ms: int
    pool_id: str
    on_time_probability: float = 1.0


@dataclass(slots=True)
class TaskRecord:
    """State of one task, owned by the registry. Every change of its state, timestamps, identity and
    outcome is made by `TaskLifecycle` (lifecycle.py); others read it. `queued` is the task's one queued
    form, built once at admission and put back as it is by a requeue; `runner` is the dispatcher's handle
    on the run, `grace_timer` the stream readers' (tasks.py)."""

    spec: TaskSpec
    queued: QueuedTask
    seed: int
    admission: Admission
    admitted_at: float
    state: TaskState = TaskState.QUEUED
    transcript: Transcript = field(default_factory=Transcript)
    identity: ReplayIdentity | None = None
    started_at: float | None = None
    first_token_at: float | None = None
    ended_at: float | None = None
    tokens_in: int | None = None
    attempts: list[str] = field(default_factory=list)
    first_identity: ReplicaSetIdentity | None = None
    kv_warmth: bool = False
    grace_timer: asyncio.TimerHandle | None = None
    runner: asyncio.Task[None] | None = None

    @property
    def task_id(self) -> str:
        return self.spec.task_id

    @property
    def tokens_out(self) -> int:
        return self.transcript.tokens

    @property
    def outcome(self) -> Outcome | None:
        """The terminal event, once the task ended."""
        return self.transcript.outcome

    @property
    def stop_reason(self) -> TaskStopReason | None:
        outcome = self.transcript.outcome
        return outcome.stop_reason if isinstance(outcome, Ended) else None

    @property
    def error(self) -> OrchError | None:
        outcome = self.transcript.outcome
        return outcome.error if isinstance(outcome, Failed) else None


@dataclass(frozen=True, slots=True)
class Retention:
    """How long finished tasks are kept, and how many bytes their transcripts may hold in all (ORCH-1016)."""

    seconds: float
    max_transcript_bytes: int


class TaskRegistry:
    """Every known task by id, with idempotent registration of client-chosen ids."""

    def __init__(self, clock: Clock, retention: Retention, metrics: DaemonMetrics, log: EventLog) -> None:
        self._clock = clock
        self._retention = retention
        self._metrics = metrics
        self._log = log
        self._tasks: dict[str, TaskRecord] = {}
        # Finished tasks whose transcript is still held, oldest end first, with the bytes counted for each.
        self._retained: dict[str, int] = {}
        self._retained_bytes = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def get(self, task_id: str) -> TaskRecord:
        record = self._tasks.get(task_id)
        if record is None:
            raise NotFound(f"task {task_id} is unknown")
        return record

    def find(self, task_id: str) -> TaskRecord | None:
        return self._tasks.get(task_id)

    def existing_admission(self, spec: TaskSpec) -> Admission | None:
        """The earlier admission of an identical submission; Conflict when the id carried another body.

        Bodies are compared by their fingerprints only. A record without one got its id from the server,
        so no submission can claim that id (ORCH-1005).
        """
        record = self._tasks.get(spec.task_id)
        if record is None:
            return None
        earlier = record.spec
        if (
            earlier.fingerprint is None
            or earlier.fingerprint != spec.fingerprint
            or earlier.tenant != spec.tenant
        ):
            raise Conflict(f"task_id {spec.task_id} was already used with a different request")
        return record.admission

    def add(self, record: TaskRecord) -> None:
        self._tasks[record.task_id] = record

    def discard(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)
        self._release(task_id)

    def earlier_turn_live(self, record: TaskRecord) -> bool:
        """Whether a task of `record`'s session admitted before it has not ended yet (ORCH-4008).

        Records are kept in admission order, so only the tasks admitted before `record` are looked at.
        """
        session_id = record.spec.session_id
        if session_id is None:
            return False
        for other in self._tasks.values():
            if other is record:
                return False
            if other.spec.session_id == session_id and not other.state.terminal:
                return True
        return False

    def active(self) -> list[TaskRecord]:
        return [r for r in self._tasks.values() if not r.state.terminal]

    @property
    def retained_transcript_bytes(self) -> int:
        return self._retained_bytes

    def retain(self, record: TaskRecord) -> None:
        """Counts a just-finished task's transcript against the budget, evicting the oldest beyond it."""
        if record.task_id in self._retained or record.transcript.evicted:
            return
        size = record.transcript.retained_bytes
        self._retained[record.task_id] = size
        self._retained_bytes += size
        self._fit_budget()

    def expire(self) -> int:
        """Forgets terminal tasks whose retention has passed; returns how many."""
        horizon = self._clock() - self._retention.seconds
        expired = [
            task_id
            for task_id, record in self._tasks.items()
            if record.ended_at is not None and record.ended_at <= horizon
        ]
        for task_id in expired:
            del self._tasks[task_id]
            self._release(task_id)
        self._fit_budget()  # transcripts skipped earlier while being read may be evicted now
        return len(expired)

    def _release(self, task_id: str) -> None:
        self._retained_bytes -= self._retained.pop(task_id, 0)
        self._metrics.set_retained_transcript_bytes(self._retained_bytes)

    def _fit_budget(self) -> None:
        """Evicts finished transcripts, oldest first, until the budget holds; ones being read are skipped."""
        excess = self._retained_bytes - self._retention.max_transcript_bytes
        victims: list[TaskRecord] = []
        for task_id, size in self._retained.items():
            if excess <= 0:
                break
            record = self._tasks[task_id]
            if record.transcript.evictable:
                victims.append(record)
                excess -= size
        for record in victims:
            self._evict(record)
        self._metrics.set_retained_transcript_bytes(self._retained_bytes)

    def _evict(self, record: TaskRecord) -> None:
        record.transcript.evict()
        self._retained_bytes -= self._retained.pop(record.task_id)
        self._metrics.transcript_evicted()
        self._log.event(
            "task.transcript_evicted",
            level=logging.WARNING,
            task_id=record.task_id,
            tenant=record.spec.tenant,
            tokens_out=record.tokens_out,
            reason="streaming.transcript_retention_max_bytes exceeded",
        )
