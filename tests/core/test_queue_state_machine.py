"""Model-based test of PoolQueue: a reference model in plain lists follows every operation.

Proves, for any sequence of enqueue / cancel / dequeue (with time passing) / requeue / finish:
boundedness, each full-queue policy's victim or refusal, FIFO within (class, tenant), the batch starvation
bound, expiry of due tasks, idempotent cancel at any point, and that every admitted task reaches exactly
one terminal outcome (dispatched-and-finished, canceled, evicted, expired, refused on requeue).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from orchestrator_core.errors import AdmissionReject
from orchestrator_core.queue import FullPolicy, PoolQueue, QueueConfig
from orchestrator_core.task import Priority, QueuedTask

TENANTS = ("a", "b", "c")
TERMINAL = ("finished", "canceled", "evicted", "expired", "refused")


class QueueMachine(RuleBasedStateMachine):
    """PoolQueue against a list-based model of the same rules."""

    in_flight = Bundle("in_flight")

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count()
        self.now = 0.0
        self.model: list[QueuedTask] = []  # fair-order tasks, in arrival order
        self.front: list[QueuedTask] = []  # requeued tasks, next first
        self.flying: dict[str, QueuedTask] = {}
        self.outcome: dict[str, str] = {}
        self.admitted: set[str] = set()
        self.interactive_streak = 0

    @initialize(
        capacity=st.integers(1, 6),
        policy=st.sampled_from(FullPolicy),
        weights=st.tuples(st.integers(1, 4), st.integers(1, 2)),
    )
    def setup(self, capacity: int, policy: FullPolicy, weights: tuple[int, int]) -> None:
        self.config = QueueConfig(capacity, policy, weights[0], weights[1], min_quantum_tokens=1)
        self.queue = PoolQueue("pool-a", self.config)

    # -- helpers -------------------------------------------------------------------------------
    def _end(self, task: QueuedTask, how: str) -> None:
        assert task.task_id in self.admitted, f"{task.task_id} ended but was never admitted"
        assert task.task_id not in self.outcome, (
            f"{task.task_id} ended twice: {self.outcome.get(task.task_id)}, {how}"
        )
        self.outcome[task.task_id] = how

    def _drop_from_model(self, task: QueuedTask) -> None:
        if task in self.front:
            self.front.remove(task)
        else:
            self.model.remove(task)

    def _expected_victim(self, arrival: Priority) -> QueuedTask | None:
        batch = [t for t in self.model if t.priority is Priority.BATCH]
        interactive = [t for t in self.model if t.priority is Priority.INTERACTIVE]
        if self.config.policy is FullPolicy.DROP_LRU:
            oldest = batch or interactive
            return oldest[0] if oldest else None
        if self.config.policy is FullPolicy.SHED_LOW_PRIORITY and arrival is Priority.INTERACTIVE:
            return batch[-1] if batch else None
        return None

    def _full(self) -> bool:
        return len(self.model) + len(self.front) >= self.config.capacity

    # -- rules ---------------------------------------------------------------------------------
    @rule(
        tenant=st.sampled_from(TENANTS),
        priority=st.sampled_from(Priority),
        cost=st.integers(0, 5),
        deadline=st.none() | st.integers(1, 30),
    )
    def enqueue(self, tenant: str, priority: Priority, cost: int, deadline: int | None) -> None:
        task = QueuedTask(
            f"t{next(self.ids)}",
            tenant,
            "pool-a",
            priority,
            cost,
            self.now,
            None if deadline is None else self.now + deadline,
        )
        victim = self._expected_victim(priority) if self._full() else None
        if self._full() and victim is None:
            with pytest.raises(AdmissionReject) as refused:
                self.queue.enqueue(task, retry_after_ms=7)
            assert refused.value.policy_label == self.config.policy.value
            assert refused.value.retry_after_ms == 7
            return
        evicted = self.queue.enqueue(task)
        assert evicted == victim
        self.admitted.add(task.task_id)
        if victim is not None:
            self._drop_from_model(victim)
            self._end(victim, "evicted")
        self.model.append(task)

    @rule(index=st.integers(0, 40))
    def cancel(self, index: int) -> None:
        task_id = f"t{index}"
        queued = [t for t in self.model + self.front if t.task_id == task_id]
        removed = self.queue.cancel(task_id)
        if queued:
            assert removed == queued[0]
            self._drop_from_model(queued[0])
            self._end(queued[0], "canceled")
        else:
            assert removed is None
        assert self.queue.cancel(task_id) is None

    @rule(target=in_flight, dt=st.integers(0, 10))
    def dequeue(self, dt: int) -> QueuedTask | None:
        self.now += dt
        due = sorted(
            (
                t
                for t in self.model + self.front
                if t.deadline_at_ms is not None and t.deadline_at_ms <= self.now
            ),
            key=lambda t: t.deadline_at_ms or 0.0,
        )
        batch_waited = any(t.priority is Priority.BATCH and t not in due for t in self.model)
        out = self.queue.next_task(self.now)
        assert sorted(t.task_id for t in out.expired) == sorted(t.task_id for t in due)
        for gone in out.expired:
            self._drop_from_model(gone)
            self._end(gone, "expired")
        task = out.task
        if task is None:
            assert not self.model and not self.front
            return None
        assert task.task_id not in self.flying and task.task_id not in self.outcome
        if self.front:
            assert task == self.front[0], "requeued tasks go first"
            self.front.pop(0)
        else:
            lane = [t for t in self.model if t.priority is task.priority and t.tenant == task.tenant]
            assert task == lane[0], "FIFO within (class, tenant)"
            self.model.remove(task)
            self._check_starvation_bound(task, batch_waited)
        self.flying[task.task_id] = task
        return task

    def _check_starvation_bound(self, task: QueuedTask, batch_waited: bool) -> None:
        if task.priority is Priority.BATCH or not batch_waited:
            self.interactive_streak = 0
            return
        self.interactive_streak += 1
        assert self.interactive_streak <= self.config.interactive_weight, "batch starved"

    @precondition(lambda self: bool(self.flying))
    @rule(task=consumes(in_flight))
    def requeue(self, task: QueuedTask | None) -> None:
        if task is None or task.task_id not in self.flying:
            return
        del self.flying[task.task_id]
        victim = self._expected_victim(task.priority) if self._full() else None
        if self._full() and victim is None:
            with pytest.raises(AdmissionReject):
                self.queue.requeue_front(task)
            self._end(task, "refused")
            return
        assert self.queue.requeue_front(task) == victim
        if victim is not None:
            self._drop_from_model(victim)
            self._end(victim, "evicted")
        self.front.insert(0, task)

    @precondition(lambda self: bool(self.flying))
    @rule(task=consumes(in_flight))
    def finish(self, task: QueuedTask | None) -> None:
        if task is None or task.task_id not in self.flying:
            return
        del self.flying[task.task_id]
        self._end(task, "finished")

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def bounded(self) -> None:
        if hasattr(self, "queue"):
            assert len(self.queue) <= self.config.capacity

    @invariant()
    def queue_matches_model(self) -> None:
        if not hasattr(self, "queue"):
            return
        assert len(self.queue) == len(self.model) + len(self.front)
        for task in self.model + self.front:
            assert self.queue.get(task.task_id) == task
        assert self.queue.requeued_depth() == len(self.front)

    @invariant()
    def every_task_in_exactly_one_place(self) -> None:
        queued = {t.task_id for t in self.model + self.front}
        places = [queued, set(self.flying), set(self.outcome)]
        for a, b in itertools.combinations(places, 2):
            assert not a & b
        assert queued | set(self.flying) | set(self.outcome) == self.admitted
        assert set(self.outcome.values()) <= set(TERMINAL)

    def teardown(self) -> None:
        if not hasattr(self, "queue"):
            return
        # Drain everything: afterwards every admitted task has exactly one terminal outcome.
        for task in self.queue.drain():
            self._drop_from_model(task)
            self._end(task, "canceled")
        for task in list(self.flying.values()):
            del self.flying[task.task_id]
            self._end(task, "finished")
        assert set(self.outcome) == self.admitted
        assert len(self.queue) == 0


QueueMachine.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    # The explain phase traces every line and takes minutes on a failure; shrinking alone is enough.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)


@pytest.mark.req(
    "ORCH-2001",
    "ORCH-2002",
    "ORCH-2003",
    "ORCH-2004",
    "ORCH-2005",
    "ORCH-2006",
    "ORCH-2007",
    "ORCH-2009",
    "ORCH-2101",
    "ORCH-2102",
    "ORCH-2202",
    "ORCH-4002",
    "ORCH-9017",
)
class TestQueueModel(QueueMachine.TestCase):  # type: ignore[valid-type,misc]
    """Runs the queue state machine."""
