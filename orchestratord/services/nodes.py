"""The node registry: pool_managerd nodes, the pools and replicas they registered, and their leases
(ORCH-1110..1114).

A registration replaces the node's previous one atomically (nothing awaits in between): its replicas enter
the ReplicaRegistry with an HTTP adapter for their endpoint and the replicas it no longer names leave.
Heartbeats renew the lease and carry readiness. `check_leases`, run from the app's lifespan at least every
500 ms, turns the replicas of a node whose lease expired unready until the node heartbeats or registers
again. Adapters are cached per endpoint and closed only when the daemon stops, because a task that started
on a replica keeps streaming through its adapter after the replica was replaced or deregistered (ORCH-1112).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from contracts.api_types.control import (
    Heartbeat,
    NodeRegistration,
    PoolHealth,
    PoolRegistration,
    ReloadResult,
)
from contracts.config_schema.common import sha256_hex
from orchestrator_core.errors import Conflict, Forbidden, InvalidParams, NotFound
from worker_adapters.protocol import EngineAdapter

from .logs import EventLog
from .metrics import DaemonMetrics
from .replicas import ReplicaRegistry, ReplicaSpec, canonical_digest

Clock = Callable[[], float]
NodeAdapterFactory = Callable[[str, str, int, int], EngineAdapter]
"""(engine, endpoint, slots_total, ctx_max) -> the adapter of a registered replica."""

LEASE_CHECK_MAX_S = 0.5
# `POST /v1/nodes/register` shares its path with `/v1/nodes/{id}`: no node may take this id.
REGISTER_PATH_SEGMENT = "register"


@dataclass(slots=True)
class NodePool:
    """A pool as its node last described it."""

    pool_id: str
    engine: str
    model_ref: str
    ready: bool
    draining: bool
    last_error: str | None
    replica_ids: tuple[str, ...]


@dataclass(slots=True)
class Node:
    """One registered pool_managerd. `token` is kept to call the node's own API and is never logged."""

    node_id: str
    api_url: str
    token: str = field(repr=False)
    heartbeat_interval_s: float
    lease_s: float
    last_seen: float
    pools: dict[str, NodePool]
    expired: bool = False
    misses_counted: int = 0

    def live(self, now: float) -> bool:
        return not self.expired and now - self.last_seen <= self.lease_s

    def owns_token(self, token: str) -> bool:
        return hmac.compare_digest(sha256_hex(token).encode(), sha256_hex(self.token).encode())


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    """The configured heartbeat interval and how many intervals a lease lasts (ORCH-1114)."""

    heartbeat_interval_ms: int = 2_000
    lease_intervals: int = 3

    @property
    def check_interval_s(self) -> float:
        """How often leases are checked: at least every 500 ms, and 4 times per heartbeat interval."""
        return min(LEASE_CHECK_MAX_S, self.heartbeat_interval_ms / 4000)


class NodeRegistry:
    """Registered nodes by id; the one writer of node-owned replicas in the ReplicaRegistry."""

    def __init__(
        self,
        *,
        clock: Clock,
        replicas: ReplicaRegistry,
        adapters: NodeAdapterFactory,
        lease: LeaseSettings,
        metrics: DaemonMetrics,
        log: EventLog,
    ) -> None:
        self._clock = clock
        self._replicas = replicas
        self._make_adapter = adapters
        self.lease = lease
        self._metrics = metrics
        self._log = log
        self._nodes: dict[str, Node] = {}
        self._adapters: dict[tuple[str, str, int, int], EngineAdapter] = {}

    # --- queries ---

    def nodes(self) -> list[Node]:
        return sorted(self._nodes.values(), key=lambda node: node.node_id)

    def get(self, node_id: str) -> Node:
        node = self._nodes.get(node_id)
        if node is None:
            raise NotFound(f"unknown node {node_id}; a pool_managerd registers with POST /v1/nodes/register")
        return node

    def owner(self, pool_id: str) -> Node | None:
        """The node that registered `pool_id`, or None."""
        return next((node for node in self._nodes.values() if pool_id in node.pools), None)

    def now(self) -> float:
        return self._clock()

    # --- registration ---

    def register(self, registration: NodeRegistration, token: str) -> Node:
        """Replaces the node's registration and starts its lease; Conflict for ids owned elsewhere."""
        node_id = registration.node_id
        if node_id == REGISTER_PATH_SEGMENT:
            raise InvalidParams(f"node_id: {node_id} is reserved (it names the registration route)")
        now = self._clock()
        _check_unique(registration)
        self._check_ownership(registration, now)
        self._take_over(registration)
        previous = self._nodes.get(node_id)
        kept = self._install_replicas(registration)
        if previous is not None:
            for pool in previous.pools.values():
                for replica_id in pool.replica_ids:
                    if replica_id not in kept:
                        self._replicas.remove(replica_id)
        interval_ms = registration.heartbeat_interval_ms
        interval_s = (
            self.lease.heartbeat_interval_ms if not isinstance(interval_ms, int) else interval_ms
        ) / 1000
        node = Node(
            node_id=node_id,
            api_url=registration.api_url.rstrip("/"),
            token=token,
            heartbeat_interval_s=interval_s,
            lease_s=interval_s * self.lease.lease_intervals,
            last_seen=now,
            pools={pool.pool_id: _node_pool(pool) for pool in registration.pools},
        )
        self._nodes[node_id] = node
        self._metrics.node_registered(node_id)
        self._publish_live(now)
        self._log.event(
            "node.registered",
            node_id=node_id,
            reason=f"{len(node.pools)} pools, {len(kept)} replicas",
        )
        return node

    def _check_ownership(self, registration: NodeRegistration, now: float) -> None:
        node_id = registration.node_id
        for pool in registration.pools:
            owner = self.owner(pool.pool_id)
            if owner is not None and owner.node_id != node_id and owner.live(now):
                raise Conflict(
                    f"pool {pool.pool_id} is registered by live node {owner.node_id}",
                    pool_id=pool.pool_id,
                )
            if owner is None and self._replicas.of_pool(pool.pool_id):
                raise Conflict(
                    f"pool {pool.pool_id} is served by orchestratord's configured replicas",
                    pool_id=pool.pool_id,
                )
            for replica in pool.replicas:
                existing = self._replicas.find(replica.replica_id)
                if existing is None or existing.spec.node_id == node_id:
                    continue
                other = self._nodes.get(existing.spec.node_id or "")
                if other is None or other.live(now):
                    holder = existing.spec.node_id or "orchestratord's configuration"
                    raise Conflict(
                        f"replica {replica.replica_id} is registered by {holder}", pool_id=pool.pool_id
                    )

    def _take_over(self, registration: NodeRegistration) -> None:
        """Drops pools and replicas that an expired node held and this registration now claims."""
        claimed = {pool.pool_id for pool in registration.pools}
        claimed_replicas = {r.replica_id for pool in registration.pools for r in pool.replicas}
        for node in list(self._nodes.values()):
            if node.node_id == registration.node_id:
                continue
            for pool_id in [p for p in node.pools if p in claimed]:
                for replica_id in node.pools.pop(pool_id).replica_ids:
                    if replica_id not in claimed_replicas:
                        self._replicas.remove(replica_id)
            for pool in node.pools.values():
                pool.replica_ids = tuple(r for r in pool.replica_ids if r not in claimed_replicas)

    def _install_replicas(self, registration: NodeRegistration) -> set[str]:
        installed: set[str] = set()
        for pool in registration.pools:
            for replica in pool.replicas:
                spec = ReplicaSpec(
                    replica_id=replica.replica_id,
                    pool_id=pool.pool_id,
                    engine=pool.engine,
                    model_ref=pool.model_ref,
                    node_id=registration.node_id,
                    sampler_profile_version=replica.sampler_profile_version,
                    determinism=replica.determinism,
                    workloads=tuple(dict.fromkeys(replica.workloads)),
                    max_tokens_out=replica.max_tokens_out
                    if isinstance(replica.max_tokens_out, int)
                    else replica.ctx_max,
                    model_digest=replica.model_digest,
                    engine_version=replica.engine_version,
                    ctx_max=replica.ctx_max,
                    slots_total=replica.slots_total,
                )
                self._install(spec, replica.endpoint, replica.ready, pool.draining, pool.last_error)
                installed.add(spec.replica_id)
        return installed

    def _install(
        self, spec: ReplicaSpec, endpoint: str, ready: bool, draining: bool, last_error: str | None
    ) -> None:
        adapter = self._adapter(spec.engine, endpoint, spec.slots_total or 0, spec.ctx_max or 0)
        current = self._replicas.find(spec.replica_id)
        if current is None or current.spec != spec or current.adapter is not adapter:
            self._replicas.register(spec, adapter)
        self._replicas.update(spec.replica_id, draining=draining)
        self._replicas.report(spec.replica_id, ready=ready, last_error=last_error)

    # --- reloads ---

    def adopt_reloaded_set(self, node_id: str, result: ReloadResult, health: PoolHealth) -> bool:
        """Installs the replica set a reload of the node's pool switched to, as the node's pool health
        shows it, and retires the old set from placement, so tasks for the new model are placed as soon as
        the reload is answered (ORCH-1104, ORCH-6012) rather than at the node's next registration, which
        then replaces this view as always. Fields the health lacks (ctx_max, workloads, sampler profile,
        max_tokens_out) are the pool's current ones: a reload changes the model, not the pool's settings.
        Returns False, changing nothing, when the health does not show the new set."""
        node = self.get(node_id)
        pool = node.pools.get(result.pool_id)
        template = self._pool_template(node_id, pool)
        digest = canonical_digest(result.model_digest)
        serving = [r for r in health.replicas if canonical_digest(r.model_digest) == digest]
        if pool is None or template is None or digest is None or not serving:
            return False
        for replica in serving:
            spec = replace(
                template,
                replica_id=replica.replica_id,
                model_ref=result.model_ref,
                model_digest=replica.model_digest,
                engine_version=replica.engine_version or result.engine_version,
                slots_total=replica.slots_total,
            )
            self._install(spec, replica.endpoint, replica.ready, health.draining, health.last_error)
        new_ids = tuple(replica.replica_id for replica in serving)
        for replica_id in pool.replica_ids:
            if replica_id not in new_ids:
                self._replicas.remove(replica_id)
        pool.model_ref, pool.replica_ids = result.model_ref, new_ids
        pool.ready, pool.draining, pool.last_error = health.ready, health.draining, health.last_error
        self._log.event(
            "node.pool_reloaded",
            node_id=node_id,
            pool_id=pool.pool_id,
            reason=f"{len(new_ids)} replicas of {digest}",
        )
        return True

    def _pool_template(self, node_id: str, pool: NodePool | None) -> ReplicaSpec | None:
        """The spec of one of the pool's registered replicas, whose pool-wide settings a new set shares."""
        if pool is None:
            return None
        found = (self._replicas.find(replica_id) for replica_id in pool.replica_ids)
        return next((r.spec for r in found if r is not None and r.spec.node_id == node_id), None)

    def _adapter(self, engine: str, endpoint: str, slots_total: int, ctx_max: int) -> EngineAdapter:
        key = (engine, endpoint.rstrip("/"), slots_total, ctx_max)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._adapters[key] = self._make_adapter(*key)
        return adapter

    # --- heartbeats and leases ---

    def heartbeat(self, node_id: str, heartbeat: Heartbeat) -> Node:
        """Renews the lease and applies the reported readiness; NotFound/Conflict make the node register."""
        node = self.get(node_id)
        for pool in heartbeat.pools:
            known = node.pools.get(pool.pool_id)
            if known is None:
                raise Conflict(f"pool {pool.pool_id} is not in node {node_id}'s registration; register again")
            unknown = [r.replica_id for r in pool.replicas if r.replica_id not in known.replica_ids]
            if unknown:
                raise Conflict(
                    f"replica {unknown[0]} is not in node {node_id}'s registration; register again",
                    pool_id=pool.pool_id,
                )
        now = self._clock()
        restored = node.expired
        node.last_seen = now
        node.expired = False
        node.misses_counted = 0
        for pool in heartbeat.pools:
            known = node.pools[pool.pool_id]
            known.ready, known.draining, known.last_error = pool.ready, pool.draining, pool.last_error
            for replica in pool.replicas:
                if self._replicas.find(replica.replica_id) is None:
                    continue
                self._replicas.update(replica.replica_id, draining=pool.draining)
                self._replicas.report(replica.replica_id, ready=replica.ready, last_error=pool.last_error)
        if restored:
            self._log.event("node.lease_restored", node_id=node_id)
        self._publish_live(now)
        return node

    def check_leases(self) -> list[str]:
        """Expires the leases that ran out and counts missed heartbeats; returns the newly expired nodes.

        Besides the periodic check, the control plane calls it before it reports leases, so a node it
        lists as not live never still has replicas that take tasks (ORCH-1101, ORCH-1114)."""
        now = self._clock()
        expired: list[str] = []
        for node in self._nodes.values():
            silent_s = now - node.last_seen
            # A heartbeat counts as missed half an interval after it was due.
            missed = max(0, math.floor(silent_s / node.heartbeat_interval_s - 0.5))
            for _ in range(missed - node.misses_counted):
                self._metrics.node_heartbeat_missed(node.node_id)
            node.misses_counted = max(node.misses_counted, missed)
            if node.expired or silent_s <= node.lease_s:
                continue
            node.expired = True
            reason = f"node {node.node_id} lease expired: no heartbeat for {math.ceil(silent_s * 1000)} ms"
            self._replicas.mark_unready(node.node_id, reason)
            expired.append(node.node_id)
            self._log.event("node.lease_expired", node_id=node.node_id, reason=reason)
        if expired:
            self._publish_live(now)
        return expired

    def deregister(self, node_id: str) -> None:
        """Forgets the node; its replicas leave placement at once, running tasks keep their adapters."""
        node = self.get(node_id)
        for pool in node.pools.values():
            for replica_id in pool.replica_ids:
                self._replicas.remove(replica_id)
        del self._nodes[node_id]
        self._publish_live(self._clock())
        self._log.event("node.deregistered", node_id=node_id)

    def check_token(self, node_id: str, token: str) -> Node:
        """The node, if `token` is the one it registered with; Forbidden for another node's token."""
        node = self.get(node_id)
        if not node.owns_token(token):
            raise Forbidden(f"this node token did not register node {node_id}")
        return node

    def _publish_live(self, now: float) -> None:
        self._metrics.set_nodes(sum(1 for node in self._nodes.values() if node.live(now)))

    async def aclose(self) -> None:
        """Closes every adapter made for registered replicas (at daemon shutdown)."""
        adapters, self._adapters = list(self._adapters.values()), {}
        for adapter in adapters:
            await adapter.aclose()


def _node_pool(pool: PoolRegistration) -> NodePool:
    return NodePool(
        pool_id=pool.pool_id,
        engine=pool.engine,
        model_ref=pool.model_ref,
        ready=pool.ready,
        draining=pool.draining,
        last_error=pool.last_error,
        replica_ids=tuple(r.replica_id for r in pool.replicas),
    )


def _check_unique(registration: NodeRegistration) -> None:
    _no_repeats("pools", [pool.pool_id for pool in registration.pools])
    _no_repeats("replicas", [r.replica_id for pool in registration.pools for r in pool.replicas])


def _no_repeats(field_name: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise InvalidParams(f"{field_name}: {value} appears more than once")
        seen.add(value)
