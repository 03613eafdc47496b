"""Admission: check a TaskSpec against limits and live replicas, then admit it into its pool's queue in the
core's one admission order (`orchestrator_core.admission`: session, quota, prediction, deadline, queue).

On the embedded backend nothing suspends between the checks and the enqueue, so a quota or a queue slot
checked is a quota or a queue slot taken; a shared backend takes each in one atomic step (ORCH-1001,
ORCH-1003..1005, ORCH-2201, ORCH-2301..2304, ORCH-4101).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial

from orchestrator_core.admission import PoolState, admit
from orchestrator_core.errors import (
    Backpressure,
    InvalidParams,
    OrchError,
    PayloadTooLarge,
    PoolUnavailable,
)
from orchestrator_core.placement import NoCapacity, choose_pool
from orchestrator_core.predictions import Running
from orchestrator_core.replica import ReplicaView
from orchestrator_core.seed import resolve_seed
from orchestrator_core.stores import QuotaStore
from orchestrator_core.task import QueuedTask

from .lifecycle import TaskLifecycle
from .logs import EventLog
from .metrics import PLACEMENT_OUTCOMES, DaemonMetrics
from .replicas import ReplicaRegistry
from .requirements import requirements_for
from .signal import Wakeup
from .state import QueueStore, SessionState, SharedSessionState, SharedTaskState, TaskStore, taken_record
from .task_registry import Admission
from .task_spec import TaskSpec, TaskState, queued_task

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    """Configured request limits (ORCH-1003)."""

    max_prompt_bytes: int = 65_536
    max_tokens: int = 8_192
    max_stop_sequences: int = 4
    max_stop_length: int = 64
    max_messages: int = 256
    max_deadline_ms: int = 86_400_000


class AdmissionGate:
    """Open until shutdown begins; then every submission gets 503 (ORCH-4004). In the shared mode an
    instance drains first (ORCH-4118): it still admits into the shared queues, but reports itself unready
    so that load balancers send new work to the others."""

    def __init__(self) -> None:
        self.open = True
        self.draining = False

    def drain(self) -> None:
        self.draining = True

    def close(self) -> None:
        self.open = False


def running_tasks(
    replicas: ReplicaRegistry, registry: TaskStore, pool_id: str, now_s: float
) -> list[Running]:
    """The running tasks of `pool_id`, oldest lease first: the tasks that hold one of its slot leases
    (ORCH-2207). Costs one look-up per leased slot, whatever the queue holds; a task that ended or went
    back to its queue while its run has not yet given the lease back is not running."""
    found: list[Running] = []
    for task_id in replicas.leasing_tasks(pool_id):
        record = registry.find(task_id)
        if record is None or record.state is not TaskState.RUNNING or record.started_at is None:
            continue
        found.append(Running(record.spec.estimated_tokens, 1000.0 * (now_s - record.started_at)))
    return found


class SessionTurns:
    """The session store as the admission's session guard: a task of a session is one of its turns."""

    __slots__ = ("_sessions",)

    def __init__(self, sessions: SessionState) -> None:
        self._sessions = sessions

    def check(self, task: QueuedTask, retry_after_ms: int) -> None:
        if task.session_id is not None:
            self._sessions.check_turn(task.session_id, task.tenant, task.cost)

    def reserve(self, task: QueuedTask) -> None:
        if task.session_id is not None:
            self._sessions.begin_turn(task.session_id, task.tenant, task.task_id, task.cost)


class AdmissionService:
    """Turns a TaskSpec into a queued task and its 202 answer, or raises the typed refusal."""

    def __init__(
        self,
        *,
        clock: Clock,
        limits: AdmissionLimits,
        registry: TaskStore,
        replicas: ReplicaRegistry,
        queues: QueueStore,
        quotas: QuotaStore,
        sessions: SessionState,
        lifecycle: TaskLifecycle,
        metrics: DaemonMetrics,
        log: EventLog,
        wakeup: Wakeup,
        gate: AdmissionGate,
        shared: SharedTaskState | None = None,
        shared_sessions: SharedSessionState | None = None,
    ) -> None:
        self._clock = clock
        self._shared = shared
        self._shared_sessions = shared_sessions
        self._limits = limits
        self._registry = registry
        self._replicas = replicas
        self._queues = queues
        self._quotas = quotas
        self._sessions = sessions
        self._turns = SessionTurns(sessions)
        self._lifecycle = lifecycle
        self._metrics = metrics
        self._log = log
        self._wakeup = wakeup
        self._gate = gate

    async def admit(self, spec: TaskSpec, correlation_id: str | None = None) -> Admission:
        """Admit `spec` or raise: InvalidParams, PayloadTooLarge, Conflict, DeadlineUnmet, 429s, 503s."""
        pool_id: str | None = None
        try:
            if not self._gate.open:
                raise PoolUnavailable("orchestratord is shutting down and admits no new tasks")
            self._check_limits(spec)
            earlier = self._registry.existing_admission(spec)
            if earlier is not None:
                return earlier
            if self._shared is None:
                pool_id = self._choose_pool(spec)
                return await self._enqueue(spec, pool_id, correlation_id)
            earlier = await self._shared.claim(spec)
            if earlier is not None:
                return earlier
            try:
                async with self._session_turn(spec.session_id):
                    pool_id = self._choose_pool(spec)
                    return await self._enqueue(spec, pool_id, correlation_id)
            except BaseException:
                await self._shared.forget(spec.task_id)
                raise
        except Backpressure as refusal:
            self._metrics.backpressure_event(pool_id, refusal.policy_label or "reject")
            self._metrics.task_rejected(pool_id, refusal.code)
            raise
        except OrchError as refusal:
            self._metrics.task_rejected(pool_id, refusal.code)
            raise

    def _session_turn(self, session_id: str | None) -> AbstractAsyncContextManager[None]:
        """Shared, a session's turn is decided by one instance at a time on its latest state (ORCH-4117)."""
        if session_id is None or self._shared_sessions is None:
            return contextlib.nullcontext()
        return self._shared_sessions.turn(session_id)

    def _check_limits(self, spec: TaskSpec) -> None:
        limits = self._limits
        if spec.prompt_bytes > limits.max_prompt_bytes:
            field = "prompt" if spec.prompt is not None else "messages"
            raise PayloadTooLarge(
                f"{field}: {spec.prompt_bytes} bytes exceed the limit {limits.max_prompt_bytes}"
            )
        if spec.max_tokens > limits.max_tokens:
            raise InvalidParams(f"max_tokens: {spec.max_tokens} exceeds the limit {limits.max_tokens}")
        if spec.messages is not None and len(spec.messages) > limits.max_messages:
            raise InvalidParams(f"messages: at most {limits.max_messages} messages")
        if spec.deadline_ms is not None and spec.deadline_ms > limits.max_deadline_ms:
            raise InvalidParams(f"deadline_ms: at most {limits.max_deadline_ms}")
        if len(spec.stop) > limits.max_stop_sequences:
            raise InvalidParams(f"stop: at most {limits.max_stop_sequences} sequences")
        if any(len(s) > limits.max_stop_length for s in spec.stop):
            raise InvalidParams(f"stop: each sequence is at most {limits.max_stop_length} characters")

    def _choose_pool(self, spec: TaskSpec) -> str:
        """The pool whose queue takes the task; refuses ctx/max_tokens beyond the model (ORCH-1004), 503s."""
        views = self._replicas.views()
        serving = [v for v in views if v.serves_model(spec.model_ref) and spec.engine in (None, v.engine)]
        if serving:
            ctx_max = max(v.ctx_max for v in serving)
            if spec.ctx is not None and ctx_max and spec.ctx > ctx_max:
                raise InvalidParams(f"ctx: {spec.ctx} exceeds the model's ctx_max {ctx_max}")
            ctx = spec.ctx or ctx_max
            if ctx and spec.max_tokens > ctx:
                raise InvalidParams(f"max_tokens: {spec.max_tokens} exceeds ctx {ctx}")
            self._check_serves(spec, serving)
            if spec.session_id is not None:
                registered = {v.identity for v in views}
                self._sessions.check_replica_set(spec.session_id, spec.tenant, registered)
        session = self._sessions.find(spec.session_id)
        requirements = requirements_for(spec, session, ())
        chosen = choose_pool(requirements, views, lambda pool: len(self._queues.get(pool)))
        if isinstance(chosen, NoCapacity):
            self._metrics.placement_decision(None, PLACEMENT_OUTCOMES[chosen.reason])
            error = chosen.error(self._refusal_text(spec, chosen))
            assert error is not None  # choose_pool never answers BUSY
            raise error
        return chosen

    @staticmethod
    def _check_serves(spec: TaskSpec, serving: list[ReplicaView]) -> None:
        """400 for a workload or feature no replica of the model has (ORCH-1091, ORCH-1094): a refusal
        naming what is missing, never a 503 that a retry cannot fix."""
        doing = [v for v in serving if spec.workload in v.workloads]
        if not doing:
            field = {"embedding": "input", "chat": "messages"}.get(spec.workload, "prompt")
            raise InvalidParams(
                f"{field}: no replica serving model {spec.model_ref} serves {spec.workload} tasks"
            )
        missing = spec.features - frozenset().union(*(v.features for v in doing))
        if missing:
            feature = sorted(missing)[0]
            raise InvalidParams(f"{feature}: no replica serving model {spec.model_ref} supports {feature}")

    @staticmethod
    def _refusal_text(spec: TaskSpec, decision: NoCapacity) -> str:
        engine = f" on engine {spec.engine}" if spec.engine else ""
        if decision.log.emptied_by() == "determinism":  # ORCH-3505
            return (
                f"no strict replica serves model {spec.model_ref}{engine}: every replica serving it runs "
                "best_effort; submit with determinism best_effort to use them"
            )
        return f"no replica can serve model {spec.model_ref}{engine}: {decision.reason.value.lower()}"

    async def _enqueue(self, spec: TaskSpec, pool_id: str, correlation_id: str | None) -> Admission:
        now_ms = self._clock() * 1000.0
        # A given seed is checked here; the derived one is only needed once the task is admitted.
        own_seed = None if spec.seed is None else resolve_seed(spec.seed, spec.task_id)
        queue = self._queues.get(pool_id)
        task = queued_task(spec, pool_id, now_ms)
        capacity = self._replicas.capacity(pool_id)
        running = partial(running_tasks, self._replicas, self._registry, pool_id, now_ms / 1000.0)
        seed = own_seed if own_seed is not None else resolve_seed(None, spec.task_id)
        if self._shared is not None:  # whichever instance pops the task must find its record
            await self._shared.pending(spec, task, seed, now_ms / 1000.0)
        admitted = await admit(
            task,
            queue,
            PoolState(capacity.rate, capacity.free, running),
            quotas=self._quotas,
            sessions=self._turns,
            now_ms=now_ms,
        )
        retry_ms = admitted.retry_after_ms
        # Clients are asked to slow down once the queue is 80% full, before refusals start (ORCH-1007).
        backoff_ms = retry_ms if len(queue) >= 0.8 * queue.config.capacity else 0
        prediction = admitted.prediction
        admission = Admission(
            task_id=spec.task_id,
            queue_position=prediction.queue_position,
            predicted_start_ms=int(prediction.predicted_start_ms),
            backoff_ms=backoff_ms,
            pool_id=pool_id,
            on_time_probability=prediction.on_time_probability,
        )
        record = self._lifecycle.admitted(spec, task, seed, admission, now_ms / 1000.0)
        self._registry.add(record)
        if self._shared is not None:
            await self._shared.admitted(record)
        if admitted.evicted is not None:
            victim = await taken_record(admitted.evicted, self._registry, self._shared)
            if victim is not None:
                self._lifecycle.evicted(victim, queue.config.policy.value, retry_ms)
        self._queues.publish_depth(queue)
        self._log.event(
            "task.admitted",
            correlation_id=correlation_id,
            task_id=spec.task_id,
            session_id=spec.session_id,
            tenant=spec.tenant,
            pool_id=pool_id,
            queue_position=admission.queue_position,
            predicted_start_ms=admission.predicted_start_ms,
        )
        self._wakeup.notify()
        return admission
