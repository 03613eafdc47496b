"""Slot leases never leak: any interleaving of acquire, release, fail, cancel and timeout keeps
0 <= free <= total and returns every slot once all leases end."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_core.errors import InvalidParams, NotFound
from orchestrator_core.leases import SlotLedger

REPLICAS = {"r1": 2, "r2": 1, "r3": 3}
OPS = st.lists(
    st.tuples(
        st.sampled_from(("acquire", "release", "fail", "cancel", "timeout", "resize")),
        st.sampled_from(tuple(f"lease-{i}" for i in range(8))),
        st.sampled_from(tuple(REPLICAS)),
        st.integers(0, 4),
    ),
    max_size=80,
)


@pytest.mark.req("ORCH-4003")
@settings(max_examples=300, deadline=None, derandomize=True)
@given(OPS)
def test_any_interleaving_returns_free_slots_to_the_total(ops: list[tuple[str, str, str, int]]) -> None:
    ledger = SlotLedger()
    for replica_id, total in REPLICAS.items():
        ledger.set_total(replica_id, total)
    holders: dict[str, str] = {}
    for kind, lease, replica_id, size in ops:
        if kind == "acquire":
            if lease in holders and holders[lease] != replica_id:
                with pytest.raises(InvalidParams):
                    ledger.acquire(replica_id, lease)
                continue
            free_before = ledger.free(replica_id)
            got = ledger.acquire(replica_id, lease)
            again = lease in holders
            assert got == (again or free_before > 0)
            if got:
                holders[lease] = replica_id
                assert ledger.free(replica_id) == free_before - (0 if again else 1)
        elif kind == "resize":
            ledger.set_total(replica_id, size)
        else:  # release, fail, cancel and timeout all end the lease
            assert ledger.release(lease) == (lease in holders)
            holders.pop(lease, None)
        for rid in REPLICAS:
            assert 0 <= ledger.free(rid) <= ledger.total(rid)
    for lease in list(holders):
        assert ledger.release(lease)
        assert not ledger.release(lease)
    for rid in REPLICAS:
        assert ledger.free(rid) == ledger.total(rid)


@pytest.mark.req("ORCH-4003")
def test_forgetting_a_replica_ends_its_leases_and_unknown_replicas_are_refused() -> None:
    ledger = SlotLedger()
    ledger.set_total("r1", 1)
    assert ledger.acquire("r1", "a")
    assert not ledger.acquire("r1", "b")
    assert ledger.forget("r1") == ("a",)
    assert not ledger.release("a")
    with pytest.raises(NotFound):
        ledger.acquire("r1", "a")
    with pytest.raises(InvalidParams):
        ledger.set_total("r1", -1)
