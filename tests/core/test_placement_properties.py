"""Placement properties: filters never violated, the choice is the best eligible replica, determinism,
pin never falls back, replica-set identity never mixed, and NoCapacity names the right reason.

The oracle below restates the rules of the spec independently of orchestrator_core.placement.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_core.errors import InvalidParams, PoolUnavailable, PoolUnready, ReplicaExhausted
from orchestrator_core.placement import (
    Assigned,
    NoCapacity,
    NoCapacityReason,
    PlacementMode,
    PlacementRules,
    Requirements,
    decide,
)
from orchestrator_core.replica import ReplicaSetIdentity, ReplicaView
from orchestrator_core.vocabulary import Determinism

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
POOLS = ("p1", "p2", "p3")
REPLICA_IDS = tuple(f"r{i}" for i in range(8))
IDENTITIES = st.builds(
    ReplicaSetIdentity,
    st.sampled_from(("llamacpp", "vllm")),
    st.sampled_from(("1", "2")),
    st.sampled_from(("d1", "d2")),
    st.sampled_from(("v1", "v2")),
)
MODES: st.SearchStrategy[Determinism] = st.sampled_from(("strict", "best_effort"))


@st.composite
def replicas(draw: st.DrawFn) -> list[ReplicaView]:
    ids = draw(st.lists(st.sampled_from(REPLICA_IDS), unique=True, max_size=len(REPLICA_IDS)))
    out = []
    for replica_id in ids:
        identity = draw(IDENTITIES)
        total = draw(st.integers(0, 3))
        out.append(
            ReplicaView(
                replica_id=replica_id,
                pool_id=draw(st.sampled_from(POOLS)),
                engine=identity.engine,
                engine_version=identity.engine_version,
                model_ref=draw(st.sampled_from(("m1", "m2"))),
                model_digest=identity.model_digest,
                sampler_profile_version=identity.sampler_profile_version,
                determinism=draw(MODES),
                ctx_max=draw(st.sampled_from((1024, 2048, 4096))),
                features=draw(st.sampled_from((frozenset(), frozenset({"tools"})))),
                workloads=draw(
                    st.sampled_from((frozenset({"completion", "chat"}), frozenset({"embedding"})))
                ),
                slots_total=total,
                slots_free=draw(st.integers(0, total)),
                ready=draw(st.booleans()),
                draining=draw(st.booleans()),
                vram_free_mb=draw(st.sampled_from((0, 1000, 2000))),
                tokens_per_s=draw(st.sampled_from((0.0, 10.0, 50.0))),
                warm_sessions=draw(st.sampled_from((frozenset(), frozenset({"s1"})))),
            )
        )
    return out


@st.composite
def healthy_replicas(draw: st.DrawFn, tied: bool = False) -> list[ReplicaView]:
    """Replicas that mostly pass every filter and often tie (`tied`: always, but for their ids), so ranking
    and pin rules are exercised."""
    ids = draw(st.lists(st.sampled_from(REPLICA_IDS), unique=True, min_size=1, max_size=len(REPLICA_IDS)))
    if tied:
        return [
            ReplicaView(
                replica_id, "p1", "llamacpp", "1", "m1", "d1", ctx_max=4096, slots_total=1, slots_free=1
            )
            for replica_id in ids
        ]
    return [
        ReplicaView(
            replica_id=replica_id,
            pool_id=draw(st.sampled_from(POOLS)),
            engine="llamacpp",
            engine_version="1",
            model_ref="m1",
            model_digest="d1",
            determinism=draw(MODES),
            ctx_max=draw(st.sampled_from((2048, 4096))),
            slots_total=2,
            slots_free=draw(st.integers(0, 2)),
            vram_free_mb=draw(st.sampled_from((0, 1000))),
            tokens_per_s=draw(st.sampled_from((10.0, 50.0))),
            warm_sessions=draw(st.sampled_from((frozenset(), frozenset({"s1"})))),
        )
        for replica_id in ids
    ]


@st.composite
def rules(draw: st.DrawFn) -> PlacementRules:
    mode = draw(st.sampled_from(PlacementMode))
    avoid = tuple(draw(st.lists(st.sampled_from(POOLS), unique=True, max_size=1)))
    fallback = draw(st.booleans())
    if mode is PlacementMode.PIN:
        pool = draw(st.none() | st.sampled_from(POOLS))
        replica = (
            draw(st.sampled_from(REPLICA_IDS))
            if pool is None
            else draw(st.none() | st.sampled_from(REPLICA_IDS))
        )
        return PlacementRules(
            mode, pin_pool_id=pool, pin_replica_id=replica, avoid_pools=avoid, allow_fallback=fallback
        )
    if mode is PlacementMode.PREFER:
        prefer = tuple(draw(st.lists(st.sampled_from(POOLS), unique=True, min_size=1, max_size=2)))
        return PlacementRules(mode, prefer_pools=prefer, avoid_pools=avoid, allow_fallback=fallback)
    return PlacementRules(avoid_pools=avoid)


REQUIREMENTS = st.builds(
    Requirements,
    model=st.sampled_from(("m1", "m2")),
    engine=st.none() | st.sampled_from(("llamacpp", "vllm")),
    ctx=st.none() | st.sampled_from((512, 2048, 4096)),
    sampler_profile_version=st.sampled_from(("v1", "v2")),
    determinism=MODES,
    session_id=st.none() | st.just("s1"),
    identity=st.none() | IDENTITIES,
    affinity_replica_id=st.none() | st.sampled_from(REPLICA_IDS),
    exclude_replicas=st.frozensets(st.sampled_from(REPLICA_IDS), max_size=2),
    rules=rules(),
    features=st.sampled_from((frozenset(), frozenset({"tools"}))),
    workload=st.sampled_from(("completion", "chat", "embedding")),
)
REQUIREMENTS = REQUIREMENTS | st.builds(
    Requirements,
    model=st.just("m1"),
    ctx=st.none() | st.just(4096),
    determinism=MODES,
    session_id=st.none() | st.just("s1"),
    affinity_replica_id=st.none() | st.sampled_from(REPLICA_IDS),
    rules=rules(),
)
POOL = replicas() | healthy_replicas()


# -- the oracle -------------------------------------------------------------------------------------
def serves(req: Requirements, r: ReplicaView) -> bool:
    """The engine, model, features and workload the task asks for."""
    if req.engine is not None and r.engine != req.engine:
        return False
    if req.model != r.model_ref and req.model not in r.model_names:
        return False
    return req.features <= r.features and req.workload in r.workloads


def static_ok(req: Requirements, r: ReplicaView) -> bool:
    rules = req.rules
    if not serves(req, r):
        return False
    if rules.mode is PlacementMode.PIN:
        if rules.pin_pool_id is not None and r.pool_id != rules.pin_pool_id:
            return False
        if rules.pin_replica_id is not None and r.replica_id != rules.pin_replica_id:
            return False
    if r.pool_id in rules.avoid_pools:
        return False
    if (
        rules.mode is PlacementMode.PREFER
        and not rules.allow_fallback
        and r.pool_id not in rules.prefer_pools
    ):
        return False
    if r.sampler_profile_version != req.sampler_profile_version:
        return False
    if req.determinism == "strict" and r.determinism != "strict":
        return False
    if req.identity is not None and r.identity != req.identity:
        return False
    return req.ctx is None or r.ctx_max >= req.ctx


def eligible(req: Requirements, r: ReplicaView) -> bool:
    return (
        static_ok(req, r)
        and r.replica_id not in req.exclude_replicas
        and r.ready
        and not r.draining
        and r.slots_free > 0
    )


def expected_reason(req: Requirements, pool: list[ReplicaView]) -> NoCapacityReason:
    left = [r for r in pool if static_ok(req, r)]
    if not left:
        return NoCapacityReason.POOL_UNAVAILABLE
    left = [r for r in left if r.replica_id not in req.exclude_replicas]
    if not left:
        return NoCapacityReason.REPLICA_EXHAUSTED
    if not [r for r in left if r.ready and not r.draining]:
        return NoCapacityReason.POOL_UNREADY
    return NoCapacityReason.BUSY


def best(req: Requirements, pool: list[ReplicaView]) -> ReplicaView:
    ok = [r for r in pool if eligible(req, r)]
    rules = req.rules
    if rules.mode is PlacementMode.PREFER and rules.allow_fallback:
        preferred = [r for r in ok if r.pool_id in rules.prefer_pools]
        ok = preferred or ok

    def warm(r: ReplicaView) -> bool:
        return r.replica_id == req.affinity_replica_id or (
            req.session_id is not None and req.session_id in r.warm_sessions
        )

    return min(ok, key=lambda r: (not warm(r), -r.slots_free, -r.vram_free_mb, -r.tokens_per_s, r.replica_id))


# -- properties -------------------------------------------------------------------------------------
@pytest.mark.req("ORCH-3001", "ORCH-3002", "ORCH-3003", "ORCH-3004", "ORCH-3005", "ORCH-3007", "ORCH-9017")
@PROPS
@given(req=REQUIREMENTS, pool=POOL)
def test_decision_is_the_best_eligible_replica_or_the_right_reason(
    req: Requirements, pool: list[ReplicaView]
) -> None:
    result = decide(req, pool)
    if any(eligible(req, r) for r in pool):
        assert isinstance(result, Assigned)
        assert eligible(req, result.replica), "a filter was violated"
        assert result.replica == best(req, pool)
        assert result.log.ranking[0] == result.replica.replica_id
    else:
        assert isinstance(result, NoCapacity)
        assert result.reason is expected_reason(req, pool)
        assert result.considered == tuple(sorted(r.replica_id for r in pool))


@pytest.mark.req("ORCH-3008", "ORCH-9017")
@PROPS
@given(req=REQUIREMENTS, pool=POOL | healthy_replicas(tied=True), data=st.data())
def test_shuffling_the_candidates_never_changes_the_decision(
    req: Requirements, pool: list[ReplicaView], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(pool))
    assert decide(req, shuffled) == decide(req, pool)


@pytest.mark.req("ORCH-3003", "ORCH-9017")
@PROPS
@given(req=REQUIREMENTS, pool=POOL)
def test_pin_never_falls_back(req: Requirements, pool: list[ReplicaView]) -> None:
    pinned = replace(
        req, rules=replace(req.rules, mode=PlacementMode.PIN, pin_replica_id="r0", allow_fallback=True)
    )
    result = decide(pinned, pool)
    if isinstance(result, Assigned):
        assert result.replica.replica_id == "r0"
    target = [r for r in pool if r.replica_id == "r0"]
    if not target or not eligible(pinned, target[0]):
        assert isinstance(result, NoCapacity)


@pytest.mark.req("ORCH-3004", "ORCH-3503")
@PROPS
@given(req=REQUIREMENTS, pool=POOL, identity=IDENTITIES)
def test_a_bound_task_only_ever_runs_on_its_replica_set(
    req: Requirements, pool: list[ReplicaView], identity: ReplicaSetIdentity
) -> None:
    bound = replace(
        req, identity=identity, session_id="s1", sampler_profile_version=identity.sampler_profile_version
    )
    result = decide(bound, pool)
    if isinstance(result, Assigned):
        assert result.replica.identity == identity


# -- examples ---------------------------------------------------------------------------------------
def replica(replica_id: str, **changes: object) -> ReplicaView:
    base = ReplicaView(
        replica_id=replica_id,
        pool_id="p1",
        engine="llamacpp",
        engine_version="b1",
        model_ref="m1",
        model_digest="d1",
        ctx_max=2048,
        slots_total=4,
        slots_free=2,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.req("ORCH-3005", "ORCH-3006")
@pytest.mark.parametrize(
    ("a", "b", "session", "winner", "tie_break"),
    [
        ({"warm_sessions": frozenset({"s"})}, {"slots_free": 4}, "s", "ra", "session_affinity"),
        ({"slots_free": 1}, {"slots_free": 3}, None, "rb", "free_slots"),
        ({"vram_free_mb": 900}, {"vram_free_mb": 100}, None, "ra", "free_vram"),
        ({"tokens_per_s": 20.0}, {"tokens_per_s": 40.0}, None, "rb", "tokens_per_s"),
        ({}, {}, None, "ra", "replica_id"),
    ],
)
def test_tie_breaks_apply_in_order_and_the_log_names_the_deciding_one(
    a: dict[str, object], b: dict[str, object], session: str | None, winner: str, tie_break: str
) -> None:
    result = decide(Requirements(model="m1", session_id=session), [replica("rb", **b), replica("ra", **a)])
    assert isinstance(result, Assigned)
    assert result.replica.replica_id == winner
    assert result.log.tie_break == tie_break
    assert result.log.candidates == ("ra", "rb")
    assert [step.name for step in result.log.filters] == [
        "model",
        "workload",
        "sampler_profile",
        "excluded",
        "ready",
        "not_draining",
        "free_slot",
    ]


@pytest.mark.req("ORCH-3006", "ORCH-3007")
def test_no_capacity_reasons_map_to_their_errors_and_busy_stays_queued() -> None:
    req = Requirements(model="m1", ctx=1024)
    cases = {
        NoCapacityReason.POOL_UNAVAILABLE: ([], PoolUnavailable),
        NoCapacityReason.REPLICA_EXHAUSTED: ([replica("r1")], ReplicaExhausted),
        NoCapacityReason.POOL_UNREADY: (
            [replica("r1", ready=False), replica("r2", draining=True)],
            PoolUnready,
        ),
    }
    for reason, (pool, error) in cases.items():
        exclude = frozenset({"r1"}) if reason is NoCapacityReason.REPLICA_EXHAUSTED else frozenset()
        result = decide(replace(req, exclude_replicas=exclude), pool)
        assert isinstance(result, NoCapacity)
        assert result.reason is reason
        assert isinstance(result.error(), error)
    busy = decide(req, [replica("r1", slots_free=0)])
    assert isinstance(busy, NoCapacity)
    assert busy.reason is NoCapacityReason.BUSY
    assert busy.error() is None
    assert busy.log.filters[-1].name == "free_slot"
    assert busy.log.filters[-1].rejected == ("r1",)


@pytest.mark.req("ORCH-3003")
def test_prefer_with_fallback_uses_other_pools_only_when_the_preferred_are_busy() -> None:
    rules = PlacementRules(PlacementMode.PREFER, prefer_pools=("p2",), allow_fallback=True)
    pool = [replica("r1", pool_id="p1", slots_free=4), replica("r2", pool_id="p2", slots_free=1)]
    chosen = decide(Requirements(model="m1", rules=rules), pool)
    assert isinstance(chosen, Assigned) and chosen.replica.replica_id == "r2"
    pool[1] = replica("r2", pool_id="p2", slots_free=0)
    fallback = decide(Requirements(model="m1", rules=rules), pool)
    assert isinstance(fallback, Assigned) and fallback.replica.replica_id == "r1"
    strict = decide(Requirements(model="m1", rules=replace(rules, allow_fallback=False)), pool)
    assert isinstance(strict, NoCapacity) and strict.reason is NoCapacityReason.BUSY


@pytest.mark.req("ORCH-3001", "ORCH-3003")
def test_bad_placement_input_gets_a_typed_error() -> None:
    with pytest.raises(InvalidParams, match="pin_pool_id"):
        PlacementRules(PlacementMode.PIN)
    with pytest.raises(InvalidParams, match="prefer_pools"):
        PlacementRules(PlacementMode.PREFER)
    with pytest.raises(InvalidParams, match="twice"):
        decide(Requirements(model="m1"), [replica("r1"), replica("r1")])
    with pytest.raises(InvalidParams, match="slots_free"):
        replica("r1", slots_total=1, slots_free=2)


@pytest.mark.req("ORCH-3505", "ORCH-3504", "ORCH-9017")
@PROPS
@given(req=REQUIREMENTS, pool=POOL)
def test_a_strict_task_is_never_placed_on_a_best_effort_replica(
    req: Requirements, pool: list[ReplicaView]
) -> None:
    strict = decide(replace(req, determinism="strict"), pool)
    if isinstance(strict, Assigned):
        assert strict.replica.determinism == "strict"
    relaxed = decide(replace(req, determinism="best_effort"), pool)
    if isinstance(strict, Assigned):
        assert isinstance(relaxed, Assigned), "a best_effort task may run wherever a strict one can"


@pytest.mark.req("ORCH-3505", "ORCH-3002", "ORCH-3006", "ORCH-3007")
def test_only_best_effort_replicas_leave_a_strict_task_pool_unavailable_by_the_determinism_filter() -> None:
    pool = [replica("r1", determinism="best_effort"), replica("r2", determinism="best_effort", pool_id="p2")]
    result = decide(Requirements(model="m1", determinism="strict"), pool)
    assert isinstance(result, NoCapacity)
    assert result.reason is NoCapacityReason.POOL_UNAVAILABLE
    assert [step.name for step in result.log.filters] == [
        "model",
        "workload",
        "sampler_profile",
        "determinism",
    ]
    assert result.log.filters[-1].rejected == ("r1", "r2")
    assert result.log.emptied_by() == "determinism"
    chosen = decide(
        Requirements(model="m1", determinism="strict"), [*pool, replica("r3", determinism="strict")]
    )
    assert isinstance(chosen, Assigned) and chosen.replica.replica_id == "r3"
    assert decide(Requirements(model="m1"), pool).log.emptied_by() is None


@pytest.mark.req("ORCH-3006")
def test_the_log_names_the_filter_that_removed_the_last_candidate() -> None:
    result = decide(Requirements(model="m1", ctx=4096), [replica("r1", model_ref="m2"), replica("r2")])
    assert isinstance(result, NoCapacity)
    assert result.log.emptied_by() == "ctx"
    busy = decide(Requirements(model="m1"), [replica("r1", slots_free=0)])
    assert isinstance(busy, NoCapacity) and busy.log.emptied_by() == "free_slot"
