"""The pool a task is queued in at admission (ORCH-3001, ORCH-3007): the pool of the replica placement would
assign now, else, every fitting replica busy, the fitting pool with the shortest queue; never BUSY."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator_core.placement import (
    Assigned,
    NoCapacity,
    NoCapacityReason,
    Requirements,
    choose_pool,
    decide,
)
from orchestrator_core.queue import FullPolicy, PoolQueue, QueueConfig
from orchestrator_core.replica import ReplicaView
from orchestrator_core.task import QueuedTask
from tests.core.test_placement_properties import POOLS, PROPS, REQUIREMENTS, replicas

QUEUED = st.fixed_dictionaries({pool: st.integers(0, 5) for pool in POOLS})


@pytest.mark.req("ORCH-3001", "ORCH-3007")
@PROPS
@given(requirements=REQUIREMENTS, candidates=replicas(), queued=QUEUED)
def test_the_chosen_pool_is_the_assigned_replicas_or_the_shortest_fitting_queue(
    requirements: Requirements, candidates: list[ReplicaView], queued: dict[str, int]
) -> None:
    chosen = choose_pool(requirements, candidates, queued.__getitem__)
    decision = decide(requirements, candidates)
    if isinstance(decision, Assigned):
        assert chosen == decision.replica.pool_id
        return
    if decision.reason is not NoCapacityReason.BUSY:
        assert isinstance(chosen, NoCapacity) and chosen.reason is decision.reason
        return
    # Every fitting replica is busy: with free slots they would be assigned, so those are the fitting ones.
    freed = [replace(r, slots_free=max(1, r.slots_total)) for r in candidates]
    fitting = {
        r.pool_id
        for r in freed
        if isinstance(decide(requirements, [r]), Assigned)
        and r.replica_id not in requirements.exclude_replicas
    }
    assert isinstance(chosen, str) and chosen in fitting
    assert queued[chosen] == min(queued[pool] for pool in fitting)
    assert chosen == min(pool for pool in fitting if queued[pool] == queued[chosen])


@pytest.mark.req("ORCH-2001")
def test_a_full_queue_names_its_refusal_without_being_asked_to_enqueue() -> None:
    queue = PoolQueue("p1", QueueConfig(capacity=1, policy=FullPolicy.REJECT))
    assert not queue.refuses_every_arrival()
    queue.enqueue(QueuedTask("t1", "a", "p1"))
    assert queue.refuses_every_arrival()

    refusal = queue.refusal(retry_after_ms=250)

    assert (refusal.code, refusal.policy_label, refusal.retry_after_ms) == ("ADMISSION_REJECT", "reject", 250)
    assert len(queue) == 1 and "t1" in queue
