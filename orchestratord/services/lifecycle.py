"""Task state transitions and the events they publish: the one writer of a task's state.

Every change of a `TaskRecord`'s state, timestamps, replay identity, attempts and outcome is made here:
admission creates the record (`admitted`), the dispatcher reports a placement (`dispatched`) and a
requeue (`requeued`), the runner reports the stream (`started`, `token`, `progress`, `succeeded`,
`failed`), readers and shutdown report cancels (`canceled`). Every terminal transition goes through
`_finish`, which is idempotent, so a cancel racing a failure or a timeout ends the task exactly once
(ORCH-2009) and releases its tenant quota exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from orchestrator_core.budgets import SessionBudgets
from orchestrator_core.errors import OrchError, QueueFullDropLru
from orchestrator_core.replica import ReplicaSetIdentity
from orchestrator_core.task import QueuedTask
from worker_adapters.types import FinalEvent

from .logs import EventLog
from .metrics import DaemonMetrics
from .replicas import Replica
from .task_events import Budgets, Ended, Failed, Outcome, Progress, ReplayIdentity, Started, task_stop_reason
from .task_registry import Admission, TaskRecord
from .task_spec import TaskSpec, TaskState
from .transcript import typed_event

Clock = Callable[[], float]
TerminalHook = Callable[[TaskRecord], None]


class TaskLifecycle:
    """Moves task records through queued -> running -> succeeded | failed | canceled."""

    def __init__(
        self, clock: Clock, metrics: DaemonMetrics, log: EventLog, budgets: SessionBudgets | None = None
    ) -> None:
        self._clock = clock
        self._budgets = budgets
        self._metrics = metrics
        self._log = log
        self._terminal_hooks: list[TerminalHook] = []

    def on_terminal(self, hook: TerminalHook) -> None:
        """Runs `hook` once for every task that reaches a terminal state (quotas, sessions, metrics)."""
        self._terminal_hooks.append(hook)

    def admitted(
        self, spec: TaskSpec, task: QueuedTask, seed: int, admission: Admission, admitted_at: float
    ) -> TaskRecord:
        """The record of a task just admitted into its queue; `task` is its one queued form."""
        self._metrics.task_enqueued(task.pool_id, task.priority.value, spec.tenant)
        return TaskRecord(spec=spec, queued=task, seed=seed, admission=admission, admitted_at=admitted_at)

    def replicated(
        self, spec: TaskSpec, task: QueuedTask, seed: int, admission: Admission, admitted_at: float
    ) -> TaskRecord:
        """This instance's record of a task another instance admitted (shared state, ORCH-4106)."""
        return TaskRecord(spec=spec, queued=task, seed=seed, admission=admission, admitted_at=admitted_at)

    def observed(
        self,
        record: TaskRecord,
        state: TaskState,
        *,
        identity: ReplayIdentity | None = None,
        started_at: float | None = None,
        first_token_at: float | None = None,
        ended_at: float | None = None,
        tokens_in: int | None = None,
    ) -> None:
        """What the instance that runs (or ended) the task reported of it (shared state, ORCH-4106); a
        record that ended here keeps its own account. No hook runs: the reporting instance ran them."""
        if record.state.terminal:
            return
        record.state = state
        record.identity = identity or record.identity
        record.started_at = started_at or record.started_at
        record.first_token_at = first_token_at or record.first_token_at
        record.tokens_in = tokens_in if tokens_in is not None else record.tokens_in
        if state.terminal:
            record.ended_at = ended_at or self._clock()

    def dispatched(self, record: TaskRecord, replica: Replica, identity: ReplicaSetIdentity) -> None:
        """The task holds a slot on `replica` and its run starts; its replay identity is known from now on
        (the status shows it, ORCH-1021). `identity` is the replica set it was placed in."""
        record.state = TaskState.RUNNING
        record.started_at = self._clock()
        if record.first_identity is None:
            record.first_identity = identity
        self._placed(record, replica)
        self._metrics.task_started(
            replica.pool_id, record.spec.priority, record.started_at - record.admitted_at
        )

    def _placed(self, record: TaskRecord, replica: Replica) -> ReplayIdentity:
        record.identity = ReplayIdentity(
            pool_id=replica.pool_id,
            replica_id=replica.replica_id,
            engine=replica.spec.engine,
            engine_version=replica.engine_version,
            model_digest=replica.model_digest,
            sampler_profile_version=record.spec.sampler_profile_version,
            seed=record.seed,
        )
        return record.identity

    def replica_failed(self, record: TaskRecord, replica_id: str) -> None:
        """`replica_id` failed the task before any token: a new placement excludes it (ORCH-4002)."""
        record.attempts.append(replica_id)

    def requeued(self, record: TaskRecord) -> None:
        """The task went back to its queue (ORCH-4002): it has no replay identity until placed again."""
        record.state = TaskState.QUEUED
        record.identity = None
        self._metrics.task_requeued(record.queued.pool_id)

    def started(self, record: TaskRecord, replica: Replica, kv_warmth: bool, queue_depth: int) -> None:
        """Publishes `started` with the replay identity, then a first `metrics` event (ORCH-1021); the
        caller logs it with `log_started`."""
        identity = record.identity
        if identity is None or identity.replica_id != replica.replica_id:
            identity = self._placed(record, replica)
        record.kv_warmth = kv_warmth
        admission = record.admission
        started = Started(admission.queue_position, admission.predicted_start_ms, identity)
        record.transcript.append(typed_event(started))
        self.progress(record, queue_depth)

    def log_started(self, record: TaskRecord) -> None:
        """The `task.started` log line; written once readers have the first token, off its path."""
        identity = record.identity
        if identity is None:
            return
        self._log.event(
            "task.started",
            task_id=record.task_id,
            session_id=record.spec.session_id,
            tenant=record.spec.tenant,
            engine=identity.engine,
            engine_version=identity.engine_version,
            pool_id=identity.pool_id,
            replica_id=identity.replica_id,
        )

    def progress(self, record: TaskRecord, queue_depth: int) -> None:
        """A `metrics` event for verbose readers: queue depth, KV warmth, on-time probability, budgets."""
        budgets = None
        if self._budgets is not None and record.spec.session_id is not None:
            remaining = self._budgets.remaining(record.spec.session_id)
            time_ms = None if remaining.time_ms is None else int(remaining.time_ms)
            budgets = Budgets(remaining.tokens, time_ms)
        progress = Progress(queue_depth, record.kv_warmth, record.admission.on_time_probability, budgets)
        record.transcript.append(typed_event(progress))

    def token(self, record: TaskRecord, text: str, index: int) -> None:
        if record.first_token_at is None:
            record.first_token_at = self._clock()
            first_s = record.first_token_at - record.admitted_at
            self._metrics.latencies(self._pool_of(record), record.spec.priority, first_s, None)
        record.transcript.append_token(text, index)

    def succeeded(self, record: TaskRecord, final: FinalEvent, queue_depth: int) -> None:
        """Ends the task with `end`; verbose readers get a last `metrics` event before it."""
        record.tokens_in = final.tokens_in
        self.progress(record, queue_depth)
        stop = task_stop_reason(final.stop_reason)
        decode_ms = int(final.timings.decode_ms)
        end = Ended(final.tokens_in, record.tokens_out, decode_ms, stop, final.tool_calls, final.embeddings)
        self._finish(record, TaskState.SUCCEEDED, end)

    def failed(self, record: TaskRecord, error: OrchError) -> None:
        """Ends the task with an `error` event carrying the typed error (ORCH-1206)."""
        # The replica's configured engine names it; adapters may report an emulator's own name.
        engine = record.identity.engine if record.identity else None
        error.engine = engine
        self._finish(record, TaskState.FAILED, Failed(error, engine))

    def evicted(self, record: TaskRecord, policy_label: str, retry_after_ms: int | None) -> None:
        """Ends a queued task that a full queue's policy evicted for another task (ORCH-2004, ORCH-2005):
        the backpressure event and QUEUE_FULL_DROP_LRU, whether an arrival or a requeue evicted it."""
        pool_id = record.queued.pool_id
        self._metrics.backpressure_event(pool_id, policy_label)
        error = QueueFullDropLru(
            "evicted from the full queue by a newer task",
            pool_id=pool_id,
            retry_after_ms=retry_after_ms,
            policy_label=policy_label,
        )
        self.failed(record, error)

    def canceled(self, record: TaskRecord) -> None:
        """Ends the task with `end` (stop_reason canceled); nothing is appended afterwards (ORCH-1030)."""
        end = Ended(record.tokens_in or 0, record.tokens_out, self._decode_ms(record), "canceled")
        self._finish(record, TaskState.CANCELED, end)

    def _pool_of(self, record: TaskRecord) -> str:
        return record.identity.pool_id if record.identity else record.queued.pool_id

    def _decode_ms(self, record: TaskRecord) -> int:
        if record.first_token_at is None:
            return 0
        return int((self._clock() - record.first_token_at) * 1000)

    def _finish(self, record: TaskRecord, state: TaskState, outcome: Outcome) -> None:
        if record.state.terminal:
            return
        record.state = state
        record.ended_at = self._clock()
        record.transcript.append(typed_event(outcome))
        for hook in self._terminal_hooks:
            hook(record)
        identity = record.identity
        pool_id = self._pool_of(record)
        code = outcome.error.code if isinstance(outcome, Failed) else None
        self._metrics.task_ended(pool_id, record.spec.priority, state.value, code)
        if record.first_token_at is not None:
            decode_s = record.ended_at - record.first_token_at
            self._metrics.latencies(pool_id, record.spec.priority, None, decode_s)
        if identity is not None:
            self._metrics.tokens(pool_id, identity.engine, record.tokens_in or 0, record.tokens_out)
        self._log.event(
            "task.ended",
            level=logging.INFO if state is not TaskState.FAILED else logging.WARNING,
            task_id=record.task_id,
            session_id=record.spec.session_id,
            tenant=record.spec.tenant,
            engine=identity.engine if identity else None,
            engine_version=identity.engine_version if identity else None,
            pool_id=pool_id,
            replica_id=identity.replica_id if identity else None,
            tokens_in=record.tokens_in,
            tokens_out=record.tokens_out,
            decode_time_ms=self._decode_ms(record),
            state=state.value,
            code=code,
        )
