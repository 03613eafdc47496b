"""Cached replica views and pool capacities never go stale: whatever mix of registrations, health and
drain changes, props, probes, node reports, slot leases, throughput observations and removals happens
between reads, every read equals a view built afresh from the replicas' current state, so placement
(ORCH-3001), predictions and capabilities (ORCH-1050) always see live data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator_core.predictions import ThroughputModel
from orchestratord.services.replicas import ReplicaRegistry, ReplicaSpec
from orchestratord.services.signal import Wakeup
from worker_adapters.types import EngineMetrics, GenerateRequest, Health, Props, StreamEvent

REPLICA_IDS = ("ra", "rb", "rc")
POOLS = ("p1", "p2")
LEASES = tuple(f"lease-{n}" for n in range(6))


def props(slots: int, ctx: int = 4096, version: str = "b1") -> Props:
    return Props(slots, slots, ctx, "mock-model", None, "mock", version)


@dataclass
class ScriptedAdapter:
    """An engine whose health and props the test sets; probing it never touches the network."""

    health_now: Health
    props_now: Props

    async def health(self) -> Health:
        return self.health_now

    async def props(self) -> Props:
        return self.props_now

    async def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        raise NotImplementedError
        yield

    async def metrics(self) -> EngineMetrics:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


READY = Health(live=True, ready=True, state="ready")
STARTING = Health(live=True, ready=False, state="starting", reason="Loading model")

replica_id = st.sampled_from(REPLICA_IDS)
operation = st.one_of(
    st.tuples(
        st.just("register"),
        replica_id,
        st.sampled_from(POOLS),
        st.sampled_from((None, 1, 3)),
        st.integers(1, 4),
    ),
    st.tuples(st.just("update"), replica_id, st.booleans(), st.booleans(), st.integers(0, 5)),
    st.tuples(st.just("report"), replica_id, st.booleans()),
    st.tuples(st.just("remove"), replica_id),
    st.tuples(st.just("unready_node"), st.sampled_from(("n1", "n2"))),
    st.tuples(st.just("lease"), replica_id, st.sampled_from(LEASES)),
    st.tuples(st.just("release"), st.integers(0, 7)),
    st.tuples(st.just("observe"), replica_id, st.integers(0, 50), st.floats(1.0, 500.0)),
    st.tuples(st.just("probe"), replica_id, st.booleans(), st.integers(1, 4), st.sampled_from(("b1", "b2"))),
)
read = st.sampled_from(("all", "pool", "one", "capacity"))


def apply(
    registry: ReplicaRegistry, adapters: dict[str, ScriptedAdapter], leases: list[str], op: tuple[Any, ...]
) -> None:
    """One change; `leases` are the lease ids handed out so far (a release picks one, released or not)."""
    kind, *args = op
    known = registry.find(args[0]) if args and args[0] in REPLICA_IDS else None
    if kind == "register":
        rid, pool, slots, engine_slots = args
        adapter = adapters.setdefault(rid, ScriptedAdapter(READY, props(engine_slots)))
        node = "n1" if rid == "ra" else "n2"
        spec = ReplicaSpec(rid, pool, "mock", "m", node_id=node, slots_total=slots)
        registry.register(spec, adapter)
    elif kind == "update" and known is not None:
        rid, ready, draining, slots = args
        registry.update(rid, ready=ready, draining=draining, props=props(slots) if slots else None)
    elif kind == "report" and known is not None:
        registry.report(args[0], ready=args[1], last_error=None if args[1] else "node says unready")
    elif kind == "remove":
        registry.remove(args[0])
    elif kind == "unready_node":
        registry.mark_unready(args[0])
    elif kind == "lease" and known is not None:
        lease_id = registry.lease(args[0], args[1])
        if lease_id is not None:
            leases.append(lease_id)
    elif kind == "release":
        registry.release(leases[args[0] % len(leases)] if leases else "lease-none")
    elif kind == "observe":
        registry.observe(args[0], tokens_out=args[1], decode_ms=args[2], first_token_ms=args[2] / 4)
    elif kind == "probe" and known is not None:
        rid, ready, slots, version = args
        adapters[rid].health_now = READY if ready else STARTING
        adapters[rid].props_now = props(slots, version=version)
        asyncio.run(registry.refresh())


def check(registry: ReplicaRegistry, how: str) -> None:
    fresh = [registry.fresh_view(r) for r in registry.all()]
    if how == "all":
        assert registry.views() == fresh
    elif how == "pool":
        for pool in POOLS:
            members = registry.of_pool(pool)
            assert registry.views(members) == [registry.fresh_view(r) for r in members]
    elif how == "one":
        assert [registry.view(r) for r in registry.all()] == fresh
    else:
        for pool in POOLS:
            assert registry.capacity(pool) == registry.fresh_capacity(pool)


@pytest.mark.req("ORCH-3001", "ORCH-1050")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(operation, read), min_size=1, max_size=40))
def test_cached_views_and_capacities_always_equal_freshly_built_ones(
    steps: list[tuple[tuple[Any, ...], str]],
) -> None:
    registry = ReplicaRegistry(Wakeup(), ThroughputModel(prior_tokens_per_s=20.0))
    adapters: dict[str, ScriptedAdapter] = {}
    leases: list[str] = []
    for op, how in steps:
        # Read in every way before the change too, so each change meets filled caches.
        for way in ("all", "pool", "one", "capacity"):
            check(registry, way)
        apply(registry, adapters, leases, op)
        check(registry, how)


@pytest.mark.req("ORCH-3001", "ORCH-4003")
def test_a_lease_and_its_release_show_in_the_cached_view_at_once() -> None:
    registry = ReplicaRegistry(Wakeup(), ThroughputModel())
    registry.register(ReplicaSpec("ra", "p1", "mock", "m", slots_total=2), ScriptedAdapter(READY, props(2)))
    registry.update("ra", ready=True)
    assert registry.views()[0].slots_free == 2
    lease_id = registry.lease("ra", "t1")
    assert lease_id is not None
    assert registry.views()[0].slots_free == 1
    assert registry.capacity("p1").free == 1
    registry.release(lease_id)
    assert registry.views()[0].slots_free == 2
    assert registry.capacity("p1").free == 2


@pytest.mark.req("ORCH-3001")
def test_a_throughput_observation_shows_in_the_cached_view() -> None:
    registry = ReplicaRegistry(Wakeup(), ThroughputModel(prior_tokens_per_s=20.0))
    registry.register(ReplicaSpec("ra", "p1", "mock", "m", slots_total=1), ScriptedAdapter(READY, props(1)))
    registry.update("ra", ready=True)
    assert registry.views()[0].tokens_per_s == 20.0
    registry.observe("ra", tokens_out=100, decode_ms=1000.0, first_token_ms=50.0)
    assert registry.views()[0].tokens_per_s == 100.0
    assert registry.capacity("p1").rate.tokens_per_s == 100.0
