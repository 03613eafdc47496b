"""What placement needs to know about a task: its TaskSpec and session turned into core Requirements."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator_core.placement import PlacementMode, PlacementRules, Requirements
from orchestrator_core.replica import ReplicaSetIdentity

from .sessions import Session
from .task_spec import TaskSpec


def placement_rules(spec: TaskSpec) -> PlacementRules:
    placement = spec.placement
    return PlacementRules(
        mode=PlacementMode(placement.mode),
        pin_pool_id=placement.pin_pool_id,
        pin_replica_id=placement.pin_replica_id,
        prefer_pools=placement.prefer_pools,
        avoid_pools=placement.avoid_pools,
        allow_fallback=placement.allow_fallback,
    )


def requirements_for(
    spec: TaskSpec,
    session: Session | None,
    exclude: Iterable[str],
    first_identity: ReplicaSetIdentity | None = None,
) -> Requirements:
    """Requirements binding a session to its replica set and a strict retry to its first attempt's set."""
    identity = session.identity if session is not None else None
    if identity is None and spec.determinism == "strict":
        identity = first_identity
    return Requirements(
        model=spec.model_ref,
        engine=spec.engine,
        ctx=spec.ctx,
        sampler_profile_version=spec.sampler_profile_version,
        determinism=spec.determinism,
        session_id=spec.session_id,
        identity=identity,
        affinity_replica_id=session.last_replica_id if session is not None else None,
        exclude_replicas=frozenset(exclude),
        rules=placement_rules(spec),
        features=spec.features,
        workload=spec.workload,
    )
