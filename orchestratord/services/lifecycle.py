"""Task state transitions and the events they publish: the one place a task starts, streams and ends.

Every terminal transition goes through `_finish`, which is idempotent, so a cancel racing a failure or a
timeout ends the task exactly once (ORCH-2009) and releases its tenant quota exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from orchestrator_core.budgets import SessionBudgets
from orchestrator_core.errors import OrchError
from worker_adapters.types import FinalEvent

from .logs import EventLog
from .metrics import DaemonMetrics
from .replicas import Replica
from .task_registry import ReplayIdentity, TaskRecord
from .task_spec import TaskState
from .transcript import StreamEvent, encode_event, encode_token

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

    def placed(self, record: TaskRecord, replica: Replica) -> ReplayIdentity:
        """Records the replay identity once the task holds a slot, so the status shows it (ORCH-1021)."""
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

    def unplaced(self, record: TaskRecord) -> None:
        """The task went back to its queue (ORCH-4002): it has no replay identity until placed again."""
        record.identity = None

    def started(self, record: TaskRecord, replica: Replica, kv_warmth: bool, queue_depth: int) -> None:
        """Publishes `started` with the replay identity, then a first `metrics` event (ORCH-1021); the
        caller logs it with `log_started`."""
        identity = record.identity
        if identity is None or identity.replica_id != replica.replica_id:
            identity = self.placed(record, replica)
        record.kv_warmth = kv_warmth
        record.transcript.append(
            encode_event(
                "started",
                {
                    "queue_position": record.admission.queue_position,
                    "predicted_start_ms": record.admission.predicted_start_ms,
                    "pool_id": identity.pool_id,
                    "replica_id": identity.replica_id,
                    "engine": identity.engine,
                    "engine_version": identity.engine_version,
                    "model_digest": identity.model_digest,
                    "seed": identity.seed,
                    "sampler_profile_version": identity.sampler_profile_version,
                },
            )
        )
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
        payload: dict[str, object] = {
            "queue_depth": queue_depth,
            "kv_warmth": record.kv_warmth,
            "on_time_probability": record.admission.on_time_probability,
        }
        if self._budgets is not None and record.spec.session_id is not None:
            remaining = self._budgets.remaining(record.spec.session_id)
            payload["tokens_budget_remaining"] = remaining.tokens
            payload["time_budget_remaining_ms"] = (
                None if remaining.time_ms is None else int(remaining.time_ms)
            )
        record.transcript.append(encode_event("metrics", payload))

    def token(self, record: TaskRecord, text: str, index: int) -> None:
        if record.first_token_at is None:
            record.first_token_at = self._clock()
            pool_id = record.identity.pool_id if record.identity else record.admission.pool_id
            first_s = record.first_token_at - record.admitted_at
            self._metrics.latencies(pool_id, record.spec.priority, first_s, None)
        record.transcript.append(encode_token(text, index))

    def succeeded(self, record: TaskRecord, final: FinalEvent, stop_reason: str, queue_depth: int) -> None:
        """Ends the task with `end`; verbose readers get a last `metrics` event before it."""
        record.tokens_in = final.tokens_in
        record.stop_reason = stop_reason
        self.progress(record, queue_depth)
        end = {
            "tokens_in": final.tokens_in,
            "tokens_out": record.tokens_out,
            "decode_time_ms": int(final.timings.decode_ms),
            "stop_reason": stop_reason,
        }
        self._finish(record, TaskState.SUCCEEDED, encode_event("end", end))

    def failed(self, record: TaskRecord, error: OrchError) -> None:
        """Ends the task with an `error` event carrying the typed error (ORCH-1206)."""
        record.error_code = error.code
        record.error_message = error.message
        record.error_retriable = error.is_retriable
        payload: dict[str, object] = {
            "code": error.code,
            "message": error.message,
            "retriable": error.is_retriable,
        }
        # The replica's configured engine names it; adapters may report an emulator's own name.
        engine = record.identity.engine if record.identity else None
        if engine is not None:
            payload["engine"] = engine
        if error.retry_after_ms is not None:
            payload["retry_after_ms"] = error.retry_after_ms
        self._finish(record, TaskState.FAILED, encode_event("error", payload))

    def canceled(self, record: TaskRecord) -> None:
        """Ends the task with `end` (stop_reason canceled); nothing is appended afterwards (ORCH-1030)."""
        record.stop_reason = "canceled"
        end = {
            "tokens_in": record.tokens_in or 0,
            "tokens_out": record.tokens_out,
            "decode_time_ms": self._decode_ms(record),
            "stop_reason": "canceled",
        }
        self._finish(record, TaskState.CANCELED, encode_event("end", end))

    def _decode_ms(self, record: TaskRecord) -> int:
        if record.first_token_at is None:
            return 0
        return int((self._clock() - record.first_token_at) * 1000)

    def _finish(self, record: TaskRecord, state: TaskState, event: StreamEvent) -> None:
        if record.state.terminal:
            return
        record.state = state
        record.ended_at = self._clock()
        record.transcript.append(event)
        for hook in self._terminal_hooks:
            hook(record)
        identity = record.identity
        pool_id = identity.pool_id if identity else record.admission.pool_id
        self._metrics.task_ended(pool_id, record.spec.priority, state.value, record.error_code)
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
            code=record.error_code,
        )
