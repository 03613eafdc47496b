"""Placement (ORCH-3001..3008): which replica runs a task, or why none can, with a log of the decision.

`decide` filters the candidates in a fixed order; the first group of filters that leaves nothing names
the outcome:

1. what the task needs, statically: engine, model, pin, avoid, prefer (without fallback), sampler
   profile, determinism (a strict task only on strict replicas, ORCH-3505), replica-set identity,
   ctx_max >= ctx. Nothing left -> POOL_UNAVAILABLE.
2. replicas that already failed this task are excluded. Nothing left -> REPLICA_EXHAUSTED.
3. ready, not draining. Nothing left -> POOL_UNREADY.
4. a free slot. Nothing left -> BUSY: the task stays queued.
5. prefer with `allow_fallback`: the preferred pools win if any survivor is in them.

`pin` never falls back: a pinned replica or pool that cannot take the task gives a NoCapacity, even with
`allow_fallback` (which only applies to `prefer`). Replica-set identity: when the requirements carry an
identity (a session's set, or the set of a strict task's first attempt) only replicas of that set survive,
so one session or strict task never mixes sets.

Survivors are ranked by: session affinity (warm KV) first, most free slots, most free VRAM, higher tokens/s,
then replica_id. Replica ids are unique, so the ranking is a total order and the decision does not depend
on the order of the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from orchestrator_core.errors import InvalidParams, OrchError, PoolUnavailable, PoolUnready, ReplicaExhausted
from orchestrator_core.replica import ReplicaSetIdentity, ReplicaView
from orchestrator_core.vocabulary import BEST_EFFORT, STRICT, Determinism, Workload


class PlacementMode(StrEnum):
    """How a task's placement rules constrain the choice."""

    AUTO = "auto"
    PIN = "pin"
    PREFER = "prefer"


@dataclass(frozen=True, slots=True)
class PlacementRules:
    """The request's `placement` object."""

    mode: PlacementMode = PlacementMode.AUTO
    pin_pool_id: str | None = None
    pin_replica_id: str | None = None
    prefer_pools: tuple[str, ...] = ()
    avoid_pools: tuple[str, ...] = ()
    allow_fallback: bool = False

    def __post_init__(self) -> None:
        """Check that the mode has what it needs.

        Raises:
            InvalidParams: `pin` without a pool or replica, or `prefer` without pools.
        """
        if self.mode is PlacementMode.PIN and not (self.pin_pool_id or self.pin_replica_id):
            raise InvalidParams("placement.pin_pool_id or placement.pin_replica_id is required for mode pin")
        if self.mode is PlacementMode.PREFER and not self.prefer_pools:
            raise InvalidParams("placement.prefer_pools is required for mode prefer")


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a task needs from a replica.

    `identity` binds the task to one replica set (a session's set, or a strict task's first attempt);
    `affinity_replica_id` is the replica holding the session's warm KV; `exclude_replicas` are the
    replicas that already failed this task (ORCH-4002); `features` what its engine must support
    (ORCH-1091). A `strict` task runs only on replicas registered
    strict (ORCH-3505); `best_effort` runs anywhere (ORCH-3504).
    """

    model: str
    engine: str | None = None
    ctx: int | None = None
    sampler_profile_version: str = "v1"
    determinism: Determinism = BEST_EFFORT
    session_id: str | None = None
    identity: ReplicaSetIdentity | None = None
    affinity_replica_id: str | None = None
    exclude_replicas: frozenset[str] = frozenset()
    rules: PlacementRules = PlacementRules()
    features: frozenset[str] = frozenset()
    workload: Workload = "completion"


class NoCapacityReason(StrEnum):
    """Why no replica was assigned."""

    POOL_UNAVAILABLE = "POOL_UNAVAILABLE"
    REPLICA_EXHAUSTED = "REPLICA_EXHAUSTED"
    POOL_UNREADY = "POOL_UNREADY"
    BUSY = "BUSY"


@dataclass(frozen=True, slots=True)
class FilterStep:
    """One filter: its name and the replica ids it removed (sorted)."""

    name: str
    rejected: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DecisionLog:
    """The candidates, the filters applied in order, the ranking of survivors and what decided."""

    candidates: tuple[str, ...]
    filters: tuple[FilterStep, ...]
    ranking: tuple[str, ...]
    tie_break: str | None

    def emptied_by(self) -> str | None:
        """The filter that removed the last remaining candidate, or None when some survived every filter."""
        left = set(self.candidates)
        for step in self.filters:
            if left and left.issubset(step.rejected):
                return step.name
            left.difference_update(step.rejected)
        return None


@dataclass(frozen=True, slots=True)
class Assigned:
    """The task goes to `replica`."""

    replica: ReplicaView
    log: DecisionLog


@dataclass(frozen=True, slots=True)
class NoCapacity:
    """No replica can take the task now; `considered` lists every candidate id."""

    reason: NoCapacityReason
    considered: tuple[str, ...]
    log: DecisionLog

    def error(self, message: str | None = None) -> OrchError | None:
        """The typed error ending the task for this reason, or None for BUSY (the task stays queued)."""
        text = message or f"no replica can take the task: {self.reason.value}"
        if self.reason is NoCapacityReason.POOL_UNAVAILABLE:
            return PoolUnavailable(text)
        if self.reason is NoCapacityReason.POOL_UNREADY:
            return PoolUnready(text)
        if self.reason is NoCapacityReason.REPLICA_EXHAUSTED:
            return ReplicaExhausted(text)
        return None


_Predicate = Callable[[ReplicaView], bool]
_TIE_BREAKS = ("session_affinity", "free_slots", "free_vram", "tokens_per_s", "replica_id")


def decide(requirements: Requirements, candidates: Iterable[ReplicaView]) -> Assigned | NoCapacity:
    """Choose the replica for a task, or say why none can take it now.

    Raises:
        InvalidParams: two candidates share a replica_id.
    """
    pool, ids, steps, refused = _fitting(requirements, candidates)
    if refused is None:
        pool = _apply("free_slot", lambda r: r.slots_free > 0, pool, steps)
        if not pool:
            refused = NoCapacityReason.BUSY
    if refused is not None:
        return NoCapacity(refused, ids, DecisionLog(ids, tuple(steps), (), None))
    return _assign(requirements, pool, ids, steps)


def choose_pool(
    requirements: Requirements, candidates: Iterable[ReplicaView], queued: Callable[[str], int]
) -> str | NoCapacity:
    """The pool whose queue takes a task at admission, or why no pool can serve it.

    The pool of the replica `decide` would assign now; when every replica that fits the task is busy, the
    fitting pool with the fewest queued tasks (`queued`), then the lowest pool id, so the task waits where
    it is served soonest. A NoCapacity is never BUSY.

    Raises:
        InvalidParams: two candidates share a replica_id.
    """
    pool, ids, steps, refused = _fitting(requirements, candidates)
    if refused is not None:
        return NoCapacity(refused, ids, DecisionLog(ids, tuple(steps), (), None))
    free = [r for r in pool if r.slots_free > 0]
    if free:
        return _assign(requirements, free, ids, steps).replica.pool_id
    return min(sorted({r.pool_id for r in pool}), key=queued)


def _fitting(
    requirements: Requirements, candidates: Iterable[ReplicaView]
) -> tuple[list[ReplicaView], tuple[str, ...], list[FilterStep], NoCapacityReason | None]:
    """The candidates that pass every filter but the free slot, the candidate ids, the steps taken, and
    the reason when none is left."""
    pool = _unique(candidates)
    ids = tuple(sorted(r.replica_id for r in pool))
    steps: list[FilterStep] = []
    groups: tuple[tuple[NoCapacityReason, list[tuple[str, _Predicate]]], ...] = (
        (NoCapacityReason.POOL_UNAVAILABLE, _static_filters(requirements)),
        (
            NoCapacityReason.REPLICA_EXHAUSTED,
            [("excluded", lambda r: r.replica_id not in requirements.exclude_replicas)],
        ),
        (
            NoCapacityReason.POOL_UNREADY,
            [("ready", lambda r: r.ready), ("not_draining", lambda r: not r.draining)],
        ),
    )
    for reason, filters in groups:
        for name, keep in filters:
            pool = _apply(name, keep, pool, steps)
        if not pool:
            return pool, ids, steps, reason
    return pool, ids, steps, None


def _assign(
    requirements: Requirements, pool: list[ReplicaView], ids: tuple[str, ...], steps: list[FilterStep]
) -> Assigned:
    pool = _prefer_with_fallback(requirements.rules, pool, steps)
    ranked = sorted(pool, key=_rank_key(requirements))
    log = DecisionLog(ids, tuple(steps), tuple(r.replica_id for r in ranked), _deciding(requirements, ranked))
    return Assigned(ranked[0], log)


def _unique(candidates: Iterable[ReplicaView]) -> list[ReplicaView]:
    by_id: dict[str, ReplicaView] = {}
    for replica in candidates:
        if replica.replica_id in by_id:
            raise InvalidParams(f"replica {replica.replica_id} appears twice among the candidates")
        by_id[replica.replica_id] = replica
    return list(by_id.values())


def _static_filters(req: Requirements) -> list[tuple[str, _Predicate]]:
    rules = req.rules
    filters: list[tuple[str, _Predicate]] = []
    if req.engine is not None:
        filters.append(("engine", lambda r: r.engine == req.engine))
    filters.append(("model", lambda r: r.serves_model(req.model)))
    filters.append(("workload", lambda r: req.workload in r.workloads))
    if req.features:
        filters.append(("features", lambda r: req.features <= r.features))
    if rules.mode is PlacementMode.PIN:
        filters.append(("pin", lambda r: _pinned(rules, r)))
    if rules.avoid_pools:
        filters.append(("avoid", lambda r: r.pool_id not in rules.avoid_pools))
    if rules.mode is PlacementMode.PREFER and not rules.allow_fallback:
        filters.append(("prefer", lambda r: r.pool_id in rules.prefer_pools))
    filters.append(("sampler_profile", lambda r: r.sampler_profile_version == req.sampler_profile_version))
    if req.determinism == STRICT:
        filters.append(("determinism", lambda r: r.determinism == STRICT))
    if req.identity is not None:
        filters.append(("identity", lambda r: r.identity == req.identity))
    if req.ctx is not None:
        ctx = req.ctx
        filters.append(("ctx", lambda r: r.ctx_max >= ctx))
    return filters


def _pinned(rules: PlacementRules, replica: ReplicaView) -> bool:
    if rules.pin_replica_id is not None and replica.replica_id != rules.pin_replica_id:
        return False
    return rules.pin_pool_id is None or replica.pool_id == rules.pin_pool_id


def _apply(
    name: str, keep: _Predicate, pool: list[ReplicaView], steps: list[FilterStep]
) -> list[ReplicaView]:
    kept = [r for r in pool if keep(r)]
    rejected = tuple(sorted(r.replica_id for r in pool if not keep(r)))
    steps.append(FilterStep(name, rejected))
    return kept


def _prefer_with_fallback(
    rules: PlacementRules, pool: list[ReplicaView], steps: list[FilterStep]
) -> list[ReplicaView]:
    if rules.mode is not PlacementMode.PREFER or not rules.allow_fallback:
        return pool
    preferred = [r for r in pool if r.pool_id in rules.prefer_pools]
    if not preferred:
        steps.append(FilterStep("prefer_fallback", ()))
        return pool
    return _apply("prefer", lambda r: r.pool_id in rules.prefer_pools, pool, steps)


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _rank_key(req: Requirements) -> Callable[[ReplicaView], tuple[int, int, int, float, str]]:
    def key(r: ReplicaView) -> tuple[int, int, int, float, str]:
        warm = r.replica_id == req.affinity_replica_id or (
            req.session_id is not None and req.session_id in r.warm_sessions
        )
        return (0 if warm else 1, -r.slots_free, -r.vram_free_mb, -_finite(r.tokens_per_s), r.replica_id)

    return key


def _deciding(req: Requirements, ranked: list[ReplicaView]) -> str:
    if len(ranked) == 1:
        return "only_candidate"
    key = _rank_key(req)
    best, runner_up = key(ranked[0]), key(ranked[1])
    for name, a, b in zip(_TIE_BREAKS, best, runner_up, strict=True):
        if a != b:
            return name
    return "replica_id"
