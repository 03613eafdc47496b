"""ReplicaRegistry: every replica the daemon can dispatch to, its adapter, live health/props and slot leases.

Static replicas from the config and replicas registered by pool_managerd (the control plane) land here
alike. Placement reads `views()`; the dispatcher leases slots through `lease()`/`release()`; the lifespan
polls health and props with `refresh()` so capabilities and readiness come from live data (ORCH-1050,
ORCH-1072).

Every admission reads the views of all replicas, so they are kept until something they show changes: each
change goes through this registry (membership, health, props, drain, leases, throughput observations),
which drops the cached view of the replica it touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator_core.errors import NotFound, OrchError
from orchestrator_core.leases import SlotLedger
from orchestrator_core.predictions import ServiceRate, ThroughputModel
from orchestrator_core.replica import ReplicaView
from orchestrator_core.vocabulary import BEST_EFFORT, Determinism
from worker_adapters.features import engine_features
from worker_adapters.protocol import EngineAdapter
from worker_adapters.types import Props

from .signal import Wakeup

logger = logging.getLogger(__name__)


_DIGEST = re.compile(r"(?:sha256:)?([0-9a-f]{64})")


def canonical_digest(value: str | None) -> str | None:
    """`sha256:<64 hex>` for a SHA-256 digest with or without the prefix; None for anything else (an
    engine's own revision hash is not a file digest)."""
    found = _DIGEST.fullmatch((value or "").lower())
    return f"sha256:{found.group(1)}" if found else None


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """What is known about a replica before asking its engine: where it belongs and what it serves.

    `determinism` is the mode the replica's node registered (ORCH-3505). A replica configured in
    orchestratord's own `replicas` list is the operator's engine, whose launch orchestratord cannot see,
    so it is best_effort unless the operator declares it strict (ORCH-3506).
    """

    replica_id: str
    pool_id: str
    engine: str
    model_ref: str
    node_id: str | None = None
    sampler_profile_version: str = "v1"
    determinism: Determinism = BEST_EFFORT
    workloads: tuple[str, ...] = ("completion", "chat")
    max_tokens_out: int | None = None
    model_digest: str | None = None
    engine_version: str | None = None
    ctx_max: int | None = None
    slots_total: int | None = None
    model_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolCapacity:
    """What predictions need of a pool: the slots of its ready replicas, how many are free, its rate."""

    slots: Mapping[str, int]
    free: int
    rate: ServiceRate


@dataclass(slots=True)
class Replica:
    """Runtime state of one replica."""

    spec: ReplicaSpec
    adapter: EngineAdapter
    props: Props | None = None
    ready: bool = False
    draining: bool = False
    last_error: str | None = None
    warm_sessions: set[str] = field(default_factory=set)
    # What the replica's node last said (lease live and replica ready); a health probe never overrides a
    # node that calls its replica unready (ORCH-1114). Static replicas have no node and keep it True.
    node_ready: bool = True

    @property
    def replica_id(self) -> str:
        return self.spec.replica_id

    @property
    def pool_id(self) -> str:
        return self.spec.pool_id

    @property
    def engine_version(self) -> str:
        if self.props is not None:
            return self.props.engine_version
        return self.spec.engine_version or "unknown"

    @property
    def model_digest(self) -> str:
        """`sha256:<hex>` of the model file as registered or configured, else as the engine reports it,
        else the stand-in `sha256:` + SHA-256 of the model_ref text.

        The stand-in keeps replicas of one model in one replica set when orchestratord cannot read the
        file (a static replica whose engine reports no digest).
        """
        reported = self.props.model_digest if self.props else None
        return (
            canonical_digest(self.spec.model_digest)
            or canonical_digest(reported)
            or "sha256:" + hashlib.sha256(self.spec.model_ref.encode()).hexdigest()
        )

    @property
    def ctx_max(self) -> int:
        if self.props is not None:
            return self.props.ctx_max
        return self.spec.ctx_max or 0

    @property
    def slots_total(self) -> int:
        if self.spec.slots_total is not None:
            return self.spec.slots_total
        return self.props.slots_total if self.props else 0


class ReplicaRegistry:
    """Replicas by id, with slot leases; notifies `wakeup` whenever capacity may have appeared."""

    def __init__(
        self, wakeup: Wakeup, throughput: ThroughputModel, aliases: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self._replicas: dict[str, Replica] = {}
        # The operator's extra model names per pool (`model_aliases`, ORCH-1062).
        self._aliases = {pool: tuple(names) for pool, names in (aliases or {}).items()}
        self._ledger = SlotLedger()
        self._wakeup = wakeup
        self.throughput = throughput
        # Views as last built, per replica and for all replicas in registration order; `_changed` drops
        # what a change makes stale, and the next read rebuilds it.
        self._cached: dict[str, ReplicaView] = {}
        self._all_views: tuple[ReplicaView, ...] | None = None
        self._capacities: dict[str, PoolCapacity] = {}
        # The task holding each lease of each pool, oldest lease first, kept at acquire and release so
        # predictions find a pool's running tasks without looking at its queue (ORCH-2207). Lease ids are
        # opaque: nothing is ever parsed out of one.
        self._pool_leases: dict[str, dict[str, str]] = {}
        self._lease_pool: dict[str, str] = {}
        self._lease_ids = itertools.count(1)

    def observe(self, replica_id: str, *, tokens_out: int, decode_ms: float, first_token_ms: float) -> None:
        """Learns from a completed task on `replica_id` (ORCH-2205); its view shows the new rates."""
        self.throughput.observe(
            replica_id, tokens_out=tokens_out, decode_ms=decode_ms, first_token_ms=first_token_ms
        )
        self._changed(replica_id)

    def _changed(self, replica_id: str) -> None:
        self._cached.pop(replica_id, None)
        self._all_views = None
        self._capacities.clear()

    # --- membership (static config and the control plane) ---

    def register(self, spec: ReplicaSpec, adapter: EngineAdapter) -> Replica:
        """Adds or replaces a replica; it is unready until `refresh` (or `update`) reads it as ready."""
        previous = self._replicas.get(spec.replica_id)
        replica = Replica(spec, adapter)
        if previous is not None:
            replica.warm_sessions = previous.warm_sessions
        self._replicas[spec.replica_id] = replica
        self._ledger.set_total(spec.replica_id, replica.slots_total)
        self._changed(spec.replica_id)
        return replica

    def update(
        self,
        replica_id: str,
        *,
        ready: bool | None = None,
        draining: bool | None = None,
        props: Props | None = None,
        last_error: str | None = None,
    ) -> Replica:
        """Changes the health, drain state or props of a replica. Raises NotFound for an unknown id."""
        replica = self.get(replica_id)
        if props is not None:
            replica.props = props
            self._ledger.set_total(replica_id, replica.slots_total)
        if ready is not None:
            replica.ready = ready
        if draining is not None:
            replica.draining = draining
        if last_error is not None:
            replica.last_error = last_error
        self._changed(replica_id)
        self._wakeup.notify()
        return replica

    def remove(self, replica_id: str) -> None:
        """Forgets a replica; tasks running on it fail through their stream and release their lease."""
        self._replicas.pop(replica_id, None)
        for lease_id in self._ledger.forget(replica_id):
            self._unindex(lease_id)
        self.throughput.forget(replica_id)
        self._changed(replica_id)
        self._wakeup.notify()

    def mark_unready(self, node_id: str, reason: str = "node lease expired") -> list[str]:
        """Turns every replica of `node_id` unready (its heartbeats stopped); returns their ids."""
        changed = [r.replica_id for r in self._replicas.values() if r.spec.node_id == node_id]
        for replica_id in changed:
            self.report(replica_id, ready=False, last_error=reason)
        return changed

    def report(self, replica_id: str, *, ready: bool, last_error: str | None = None) -> Replica:
        """Records the readiness a replica's node reports; probes cannot make it ready while this is False."""
        replica = self.get(replica_id)
        replica.node_ready = ready
        replica.ready = ready
        replica.last_error = last_error
        self._changed(replica_id)
        self._wakeup.notify()
        return replica

    # --- views ---

    def get(self, replica_id: str) -> Replica:
        replica = self._replicas.get(replica_id)
        if replica is None:
            raise NotFound(f"replica {replica_id} is unknown")
        return replica

    def find(self, replica_id: str) -> Replica | None:
        return self._replicas.get(replica_id)

    def all(self) -> list[Replica]:
        return list(self._replicas.values())

    def of_node(self, node_id: str) -> list[Replica]:
        return [r for r in self._replicas.values() if r.spec.node_id == node_id]

    def pool_ids(self) -> list[str]:
        return sorted({r.pool_id for r in self._replicas.values()})

    def of_pool(self, pool_id: str) -> list[Replica]:
        return [r for r in self._replicas.values() if r.pool_id == pool_id]

    def view(self, replica: Replica) -> ReplicaView:
        """The replica's view as of now; kept until the replica changes."""
        if self._replicas.get(replica.replica_id) is not replica:  # no longer registered: nothing to keep
            return self.fresh_view(replica)
        cached = self._cached.get(replica.replica_id)
        if cached is None:
            cached = self._cached[replica.replica_id] = self.fresh_view(replica)
        return cached

    def model_names(self, replica: Replica, *, engine_name: bool = True) -> frozenset[str]:
        """The names besides model_ref that ask for the replica's model: its own (a static replica's
        model_id), its pool's aliases and, with `engine_name`, the name its engine reports."""
        names = {*replica.spec.model_names, *self._aliases.get(replica.pool_id, ())}
        if engine_name and replica.props is not None:
            names.add(replica.props.model_id)
        names.discard(replica.spec.model_ref)
        return frozenset(names)

    def fresh_view(self, replica: Replica) -> ReplicaView:
        """The replica's view built from its current state, bypassing the cache."""
        total = self._ledger.total(replica.replica_id)
        return ReplicaView(
            replica_id=replica.replica_id,
            pool_id=replica.pool_id,
            engine=replica.spec.engine,
            engine_version=replica.engine_version,
            model_ref=replica.spec.model_ref,
            model_digest=replica.model_digest,
            ctx_max=replica.ctx_max,
            slots_total=total,
            slots_free=min(total, self._ledger.free(replica.replica_id)),
            ready=replica.ready,
            draining=replica.draining,
            sampler_profile_version=replica.spec.sampler_profile_version,
            determinism=replica.spec.determinism,
            model_names=self.model_names(replica),
            features=engine_features(replica.spec.engine),
            workloads=frozenset(replica.spec.workloads),
            tokens_per_s=self.throughput.tokens_per_s(replica.replica_id),
            first_token_ms=self.throughput.first_token_ms(replica.replica_id),
            warm_sessions=frozenset(replica.warm_sessions),
        )

    def views(self, replicas: Iterable[Replica] | None = None) -> list[ReplicaView]:
        """The views of `replicas` (default: every replica, in registration order)."""
        if replicas is not None:
            return [self.view(r) for r in replicas]
        if self._all_views is None:
            self._all_views = tuple(self.view(r) for r in self._replicas.values())
        return list(self._all_views)

    def capacity(self, pool_id: str) -> PoolCapacity:
        """The pool's ready slots, free slots and service rate; kept until a replica changes."""
        known = self._capacities.get(pool_id)
        if known is None:
            known = self._capacities[pool_id] = self.fresh_capacity(pool_id)
        return known

    def fresh_capacity(self, pool_id: str) -> PoolCapacity:
        """The pool's capacity computed from the current state, bypassing the cache."""
        slots = {r.replica_id: self._ledger.total(r.replica_id) for r in self.of_pool(pool_id) if r.ready}
        free = sum(self._ledger.free(replica_id) for replica_id in slots)
        return PoolCapacity(slots, free, self.throughput.pool_rate(slots))

    def any_ready(self) -> bool:
        return any(r.ready and not r.draining for r in self._replicas.values())

    # --- slots ---

    def lease(self, replica_id: str, task_id: str) -> str | None:
        """A slot on `replica_id` for `task_id`: the new lease's id, or None when no slot is free. Each
        placement of a task takes a lease of its own (ORCH-4002)."""
        lease_id = f"lease-{next(self._lease_ids)}"
        if not self._ledger.acquire(replica_id, lease_id):
            return None
        pool_id = self.get(replica_id).pool_id
        self._lease_pool[lease_id] = pool_id
        self._pool_leases.setdefault(pool_id, {})[lease_id] = task_id
        self._changed(replica_id)
        return lease_id

    def release(self, lease_id: str) -> None:
        """Gives the slot of `lease_id` back; idempotent."""
        replica_id = self._ledger.holder(lease_id)
        if self._ledger.release(lease_id):
            self._unindex(lease_id)
            if replica_id is not None:
                self._changed(replica_id)
            self._wakeup.notify()

    def _unindex(self, lease_id: str) -> None:
        pool_id = self._lease_pool.pop(lease_id, None)
        if pool_id is not None:
            self._pool_leases[pool_id].pop(lease_id, None)

    def leasing_tasks(self, pool_id: str) -> tuple[str, ...]:
        """The tasks holding a slot lease in `pool_id`, oldest lease first: its running tasks (ORCH-2207)."""
        return tuple(self._pool_leases.get(pool_id, {}).values())

    def free_slots(self, replica_id: str) -> int:
        return self._ledger.free(replica_id)

    def total_slots(self, replica_id: str) -> int:
        return self._ledger.total(replica_id)

    def holder(self, lease_id: str) -> str | None:
        return self._ledger.holder(lease_id)

    # --- live data ---

    async def refresh(self, timeout_s: float = 2.0) -> None:
        """Probes every replica's health and props concurrently and records what it finds."""
        replicas = list(self._replicas.values())
        async with asyncio.TaskGroup() as group:
            for replica in replicas:
                group.create_task(self._probe(replica, timeout_s))
        self._wakeup.notify()

    async def _probe(self, replica: Replica, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                health = await replica.adapter.health()
                props = await replica.adapter.props() if health.ready else None
        except (OrchError, TimeoutError) as exc:
            self._probe_failed(replica, str(exc) or type(exc).__name__)
            return
        except Exception as exc:  # an adapter bug makes this replica unready, never stops the polling
            logger.exception("probing replica %s failed", replica.replica_id)
            self._probe_failed(replica, f"{type(exc).__name__} while probing")
            return
        if self._replicas.get(replica.replica_id) is not replica:
            return
        self._changed(replica.replica_id)
        if props is not None:
            replica.props = props
            self._ledger.set_total(replica.replica_id, replica.slots_total)
        replica.ready = health.ready and replica.node_ready
        if health.ready and replica.node_ready:
            replica.last_error = None
        elif not health.ready:
            replica.last_error = health.reason

    def _probe_failed(self, replica: Replica, reason: str) -> None:
        replica.ready = False
        replica.last_error = reason
        self._changed(replica.replica_id)
