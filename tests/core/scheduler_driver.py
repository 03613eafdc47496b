"""A model-checked driver of the Scheduler over two pools: random admissions, dispatches, requeues, cancels,
evictions, expiries and finishes, tracking from the scheduler's answers which tasks are live and which ended.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import strategies as st

from orchestrator_core.errors import AdmissionReject, Conflict, DeadlineUnmet, QuotaExceeded
from orchestrator_core.predictions import ServiceRate
from orchestrator_core.queue import FullPolicy, QueueConfig
from orchestrator_core.quotas import TenantLimits, TenantQuotas
from orchestrator_core.task import Priority, QueuedTask
from tests.core.scheduler import Scheduler
from tests.core.strategies import make_task

POOLS = ("pool-a", "pool-b")
TENANTS = ("t1", "t2")
FAST = ServiceRate(tokens_per_s=1e6, first_token_ms=0.0, slots=1)


class CountingQuotas(TenantQuotas):
    """Tenant quotas that count, per task, the releases that actually freed something."""

    def __init__(self, default: TenantLimits) -> None:
        super().__init__(default)
        self.freed: Counter[str] = Counter()

    def release(self, task_id: str) -> bool:
        freed = super().release(task_id)
        if freed:
            self.freed[task_id] += 1
        return freed


@dataclass
class Model:
    """What the scheduler has said so far: tasks admitted, queued (and where), running, and ended."""

    admitted: dict[str, QueuedTask] = field(default_factory=dict)
    queued_in: dict[str, str] = field(default_factory=dict)
    running: dict[str, QueuedTask] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    dispatched_from: list[tuple[str, QueuedTask]] = field(default_factory=list)

    def end(self, task: QueuedTask) -> None:
        assert task.task_id not in self.ended, f"{task.task_id} ended twice"
        self.queued_in.pop(task.task_id, None)
        self.running.pop(task.task_id, None)
        self.ended.add(task.task_id)

    def live(self, tenant: str) -> int:
        return sum(1 for tid, t in self.admitted.items() if t.tenant == tenant and tid not in self.ended)


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("admit"),
            st.sampled_from(POOLS),
            st.sampled_from(TENANTS),
            st.sampled_from(Priority),
            st.one_of(st.none(), st.integers(1, 30)),
        ),
        st.tuples(st.just("dispatch"), st.sampled_from(POOLS)),
        st.tuples(st.just("finish"), st.integers(0, 50)),
        st.tuples(st.just("requeue"), st.integers(0, 50)),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("tick"), st.integers(1, 20)),
    ),
    max_size=60,
)


class Driver:
    """Applies operations to a fresh scheduler and records the scheduler's answers in a Model."""

    def __init__(self) -> None:
        self.quotas = CountingQuotas(TenantLimits(max_concurrent=8))
        configs = {pool: QueueConfig(3, FullPolicy.DROP_LRU) for pool in POOLS}
        self.sched = Scheduler(configs, quotas=self.quotas)
        self.model = Model()
        self.now = 0.0

    def apply(self, op: tuple[object, ...]) -> None:
        kind = op[0]
        if kind == "admit":
            self._admit(*op[1:])  # type: ignore[arg-type]
        elif kind == "dispatch":
            self._dispatch(str(op[1]))
        elif kind == "tick":
            self.now += float(op[1])  # type: ignore[arg-type]
        else:
            self._on_task(str(kind), int(op[1]))  # type: ignore[call-overload]

    def _admit(self, pool: str, tenant: str, priority: Priority, deadline_in: int | None) -> None:
        deadline = None if deadline_in is None else self.now + deadline_in
        task = make_task(tenant, priority, pool_id=pool, enqueued_ms=self.now, deadline_at_ms=deadline)
        try:
            admission = self.sched.admit(task, rate=FAST, slots_free=0, now_ms=self.now)
        except (QuotaExceeded, AdmissionReject, DeadlineUnmet):
            return
        self.model.admitted[task.task_id] = task
        self.model.queued_in[task.task_id] = pool
        if admission.evicted is not None:
            self.model.end(admission.evicted)

    def _dispatch(self, pool: str) -> None:
        out = self.sched.next_task(pool, self.now)
        for task in out.expired:
            assert self.model.queued_in.get(task.task_id) == pool, "a task expired from a queue it was not in"
            self.model.end(task)
        if out.task is not None:
            self.model.dispatched_from.append((pool, out.task))
            assert self.model.queued_in.pop(out.task.task_id) == pool, (
                "a task came out of another pool's queue"
            )
            self.model.running[out.task.task_id] = out.task

    def _on_task(self, kind: str, pick: int) -> None:
        known = list(self.model.admitted.values())
        if not known:
            return
        task = known[pick % len(known)]
        if kind == "finish":
            # Success, failure and cancel while running all end in finish; a repeat after the end must
            # change nothing, and finishing a task that is still queued is refused without freeing it.
            if task.task_id in self.model.queued_in:
                with pytest.raises(Conflict, match="still queued"):
                    self.sched.finish(task.task_id, tokens_used=1, decode_ms=1.0)
            elif task.task_id in self.model.running:
                self.sched.finish(task.task_id, tokens_used=1, decode_ms=1.0)
                self.model.end(task)
            elif task.task_id in self.model.ended:
                self.sched.finish(task.task_id, tokens_used=1, decode_ms=1.0)
        elif kind == "cancel":
            canceled = self.sched.cancel(task.task_id)
            assert (canceled is not None) == (task.task_id in self.model.queued_in)
            if canceled is not None:
                self.model.end(canceled)
        elif kind == "requeue" and task.task_id in self.model.running:
            del self.model.running[task.task_id]
            try:
                evicted = self.sched.requeue_front(task, rate=FAST)
            except AdmissionReject:
                self.model.ended.add(task.task_id)
                return
            self.model.queued_in[task.task_id] = task.pool_id
            if evicted is not None:
                self.model.end(evicted)
