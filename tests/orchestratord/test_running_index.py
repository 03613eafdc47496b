"""Predictions find a pool's running tasks through its held slot leases (ORCH-2207, ORCH-4003): the set
always equals the tasks that hold a lease, whatever mix of dispatches, ends and re-queues happened, and
admission looks at one record per leased slot, never at the queued tasks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator_core.errors import WorkerReset
from orchestrator_core.predictions import Running
from orchestratord.services.admission import running_tasks
from orchestratord.services.replicas import ReplicaSpec
from orchestratord.services.task_registry import Admission, TaskRecord
from orchestratord.services.task_spec import TaskSpec, TaskState
from orchestratord.wiring import Services, build_services
from tests.core.admit_now import run_now
from tests.orchestratord.orchd_harness import MODEL, make_config
from tests.orchestratord.test_replica_view_cache import READY, ScriptedAdapter, props

# Default priors (ORCH-2205): 500 ms to the first token, 20 tokens/s per slot.
FIRST_TOKEN_MS = 500.0
MS_PER_TOKEN = 50.0
REPLICAS = {"ra": "p1", "rb": "p1", "rc": "p2"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def services_with(clock: FakeClock, slots: int = 2, replicas: dict[str, str] | None = None) -> Services:
    services = build_services(make_config(), clock=clock)
    for replica_id, pool_id in (replicas or REPLICAS).items():
        spec = ReplicaSpec(replica_id, pool_id, "llamacpp", MODEL, slots_total=slots)
        services.replicas.register(spec, ScriptedAdapter(READY, props(slots)))
        services.replicas.update(replica_id, ready=True, props=props(slots))
    return services


def tid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def spec(name: str, tenant: str = "t", max_tokens: int = 10) -> TaskSpec:
    return TaskSpec(task_id=tid(name), tenant=tenant, model_ref=MODEL, max_tokens=max_tokens, prompt="hi")


def start(services: Services, leases: dict[str, str], record: TaskRecord, replica_id: str) -> bool:
    """What the dispatcher does when it places a task: take it off its queue, lease a slot, report the
    dispatch to the lifecycle. `leases` holds each task's current lease."""
    lease_id = services.replicas.lease(replica_id, record.task_id)
    if lease_id is None:
        return False
    leases[record.task_id] = lease_id
    run_now(services.queues.get(record.queued.pool_id).cancel(record.task_id))
    replica = services.replicas.get(replica_id)
    services.lifecycle.dispatched(record, replica, services.replicas.view(replica).identity)
    return True


def release(services: Services, leases: dict[str, str], record: TaskRecord) -> None:
    """What the run's `finally` does: give the slot back."""
    services.replicas.release(leases.get(record.task_id, "lease-none"))


def brute_force_running(
    services: Services, leases: dict[str, str], records: list[TaskRecord], pool_id: str, now: float
) -> list[Running]:
    """Every record scanned: running, and its current placement's lease held on a replica of the pool."""
    found = []
    for record in records:
        holder = services.replicas.holder(leases.get(record.task_id, "lease-none"))
        if record.state is TaskState.RUNNING and holder is not None and REPLICAS.get(holder) == pool_id:
            assert record.started_at is not None
            found.append(Running(record.spec.estimated_tokens, 1000.0 * (now - record.started_at)))
    return found


def key(running: list[Running]) -> list[tuple[int, float]]:
    return sorted((r.tokens, r.elapsed_ms) for r in running)


task_index = st.integers(0, 7)
operation = st.one_of(
    st.tuples(st.just("dispatch"), task_index, st.sampled_from(sorted(REPLICAS))),
    st.tuples(st.sampled_from(["succeed", "cancel", "fail", "requeue", "end_only", "release"]), task_index),
    st.tuples(st.just("tick"), st.floats(0.0, 5.0)),
    st.tuples(st.just("remove"), st.sampled_from(sorted(REPLICAS))),
)


def apply(
    services: Services,
    clock: FakeClock,
    leases: dict[str, str],
    records: list[TaskRecord],
    op: tuple[Any, ...],
) -> None:
    """One event as the daemon produces it; events that cannot happen in the current state do nothing."""
    kind = op[0]
    if kind == "tick":
        clock.now += op[1]
        return
    if kind == "remove":
        services.replicas.remove(op[1])
        return
    record = records[op[1]]
    if kind == "dispatch":
        placeable = services.replicas.find(op[2]) is not None and REPLICAS[op[2]] == record.queued.pool_id
        if record.state is TaskState.QUEUED and placeable:
            start(services, leases, record, op[2])
    elif kind == "requeue" and record.state is TaskState.RUNNING:
        services.lifecycle.replica_failed(record, "ra")
        services.lifecycle.requeued(record)
        release(services, leases, record)
    elif kind == "release":
        release(services, leases, record)
    elif kind in ("succeed", "cancel", "fail", "end_only") and not record.state.terminal:
        if kind == "fail":
            services.lifecycle.failed(record, WorkerReset("engine went away"))
        else:
            services.lifecycle.canceled(record)
        if kind != "end_only":  # `end_only`: the run has not given its lease back yet
            release(services, leases, record)


@pytest.mark.req("ORCH-2207", "ORCH-4003")
@settings(max_examples=150, deadline=None)
@given(st.lists(operation, max_size=40))
@example([("dispatch", 0, "ra"), ("dispatch", 1, "rb"), ("tick", 1.0), ("end_only", 0), ("requeue", 1)])
def test_the_running_set_equals_the_tasks_holding_a_lease_after_any_mix_of_events(
    operations: list[tuple[Any, ...]],
) -> None:
    clock = FakeClock()
    services = services_with(clock)
    records = []
    for n in range(8):
        admission = run_now(
            services.admission.admit(spec(f"task-{n}", tenant=f"t{n % 3}", max_tokens=10 + n))
        )
        records.append(services.registry.get(admission.task_id))
    leases: dict[str, str] = {}
    for op in operations:
        apply(services, clock, leases, records, op)
        for pool_id in ("p1", "p2"):
            expected = brute_force_running(services, leases, records, pool_id, clock())
            assert key(running_tasks(services.replicas, services.registry, pool_id, clock())) == key(expected)


@pytest.mark.req("ORCH-2207")
def test_a_busy_pool_with_a_late_admitted_running_task_predicts_the_remaining_work() -> None:
    clock = FakeClock()
    services = services_with(clock, slots=2, replicas={"ra": "p1"})
    early = [run_now(services.admission.admit(spec(f"a{n}", tenant="a", max_tokens=10))) for n in range(3)]
    clock.now += 1.0
    late = run_now(services.admission.admit(spec("b0", tenant="b", max_tokens=40)))
    # Fair order puts the late tenant's task on a slot next to the first early one.
    leases: dict[str, str] = {}
    start(services, leases, services.registry.get(early[0].task_id), "ra")
    start(services, leases, services.registry.get(late.task_id), "ra")
    clock.now += 0.5

    answer = run_now(services.admission.admit(spec("a3", tenant="a", max_tokens=4)))

    # Running: a0 (10 tokens) and b0 (40 tokens), each 500 ms into its one-slot service time.
    a0_left = FIRST_TOKEN_MS + 10 * MS_PER_TOKEN - 500.0
    b0_left = FIRST_TOKEN_MS + 40 * MS_PER_TOKEN - 500.0
    # Ahead of a3: a1 and a2, 10 tokens each; no slot free; the work is shared over the 2 slots.
    ahead = 2 * FIRST_TOKEN_MS + 20 * MS_PER_TOKEN
    assert answer.queue_position == 2
    assert answer.predicted_start_ms == int((a0_left + b0_left + ahead) / 2) == 2250


class CountingRecords(dict[str, TaskRecord]):
    """The registry's record table, refusing to be iterated (a scan of the tasks)."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("admission scanned the task records")

    def values(self) -> Any:
        raise AssertionError("admission scanned the task records")

    def items(self) -> Any:
        raise AssertionError("admission scanned the task records")


@pytest.mark.req("ORCH-2207")
def test_admission_looks_up_one_record_per_leased_slot_and_never_scans_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    services = services_with(clock, slots=2, replicas={"ra": "p1"})
    admitted = [run_now(services.admission.admit(spec(f"q{n}", tenant="a"))) for n in range(60)]
    late = run_now(services.admission.admit(spec("late", tenant="b", max_tokens=40)))
    leases: dict[str, str] = {}
    start(services, leases, services.registry.get(admitted[0].task_id), "ra")
    start(services, leases, services.registry.get(late.task_id), "ra")
    registry = services.registry
    monkeypatch.setattr(registry, "_tasks", CountingRecords(registry._tasks))
    looked_up: list[str] = []
    find = registry.find

    def counting_find(task_id: str) -> TaskRecord | None:
        looked_up.append(task_id)
        return find(task_id)

    monkeypatch.setattr(registry, "find", counting_find)

    answer: Admission = run_now(services.admission.admit(spec("new", tenant="c", max_tokens=4)))

    assert sorted(looked_up) == sorted([tid("late"), tid("q0")])
    assert answer.predicted_start_ms > 0
