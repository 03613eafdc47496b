"""Registration with orchestratord and heartbeats (ORCH-6013, ORCH-1110, ORCH-1111).

On start the node registers its pools and replicas; then it heartbeats every interval with readiness and
load. A 404 heartbeat (orchestratord restarted and forgot the node) or a changed replica set (reload,
reset) registers again. While orchestratord is unreachable or failing, calls are retried with capped
backoff. The node token goes as a bearer token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel

from contracts.api_types.control import (
    Device,
    Heartbeat,
    NodeRegistration,
    PoolHeartbeat,
    PoolRegistration,
    ReplicaHeartbeat,
    ReplicaRegistration,
)
from pool_managerd.backoff import Backoff
from pool_managerd.devices import DeviceInventory, wire_devices
from pool_managerd.status import PoolStatus, ReplicaStatus

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
LoadProbe = Callable[[], Awaitable[dict[str, int | None]]]
"""Busy slots per replica id (None: unreadable)."""


@dataclass(frozen=True)
class NodeIdentity:
    """Who registers: the node id, where its own API listens, and the token it authenticates with."""

    node_id: str
    api_url: str
    node_token: str
    heartbeat_interval_s: float


@dataclass
class RegistrationState:
    """What the client knows about its standing with orchestratord (reported by /v1/health and metrics)."""

    registered: bool = False
    last_error: str | None = None
    fingerprint: tuple[object, ...] = field(default_factory=tuple)
    registrations: dict[str, int] = field(default_factory=lambda: {"ok": 0, "error": 0})
    heartbeats: dict[str, int] = field(default_factory=lambda: {"ok": 0, "not_found": 0, "error": 0})


class _Rejected(Exception):
    """orchestratord answered, but not with success; the status says what to do next."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


# A heartbeat naming replicas orchestratord does not have (409) is answered like an unknown node.
_REGISTER_AGAIN = frozenset({404, 409})


class RegistrationClient:
    """Keeps this node registered with orchestratord for as long as `run()` runs."""

    def __init__(
        self,
        identity: NodeIdentity,
        http: httpx.AsyncClient,
        pools: Callable[[], list[PoolStatus]],
        inventory: Callable[[], DeviceInventory],
        load: LoadProbe,
        retry: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._identity = identity
        self._http = http
        self._pools = pools
        self._inventory = inventory
        self._load = load
        self._retry = retry or Backoff(initial_ms=500, max_ms=10_000, full_jitter=True)
        self._sleep = sleep
        self.interval_s = identity.heartbeat_interval_s
        self.state = RegistrationState()

    async def run(self) -> None:
        """Register, then heartbeat forever; never raises for orchestratord failures."""
        while True:
            try:
                await self.step()
            except (httpx.HTTPError, _Rejected) as exc:
                self.state.registered = False
                self.state.last_error = str(exc) or type(exc).__name__
                delay = self._retry.next_delay_ms() / 1000
                log.warning("orchestratord call failed (%s); retry in %.2f s", self.state.last_error, delay)
                await self._sleep(delay)
                continue
            self._retry.reset()
            await self._sleep(self.interval_s)

    async def step(self) -> None:
        """One round: register when needed, else heartbeat (registering again on 404 or 409)."""
        pools = self._pools()
        if not self.state.registered or self.state.fingerprint != fingerprint(pools):
            await self.register(pools)
            return
        try:
            await self.heartbeat(pools)
        except _Rejected as exc:
            if exc.status not in _REGISTER_AGAIN:
                raise
            log.info(
                "orchestratord does not know node %s (%d); registering again",
                self._identity.node_id,
                exc.status,
            )
            # A fresh snapshot: the pools may have changed (a reload) while the heartbeat was in flight.
            await self.register(self._pools())

    async def register(self, pools: list[PoolStatus]) -> None:
        body = registration_body(self._identity, pools, self._inventory())
        try:
            lease = await self._call("POST", "/v1/nodes/register", body)
        except (httpx.HTTPError, _Rejected):
            self.state.registrations["error"] += 1
            raise
        self.state.registrations["ok"] += 1
        self.state.registered = True
        self.state.fingerprint = fingerprint(pools)
        self.state.last_error = None
        self._adopt(lease)

    async def heartbeat(self, pools: list[PoolStatus]) -> None:
        body = heartbeat_body(pools, await self._load())
        try:
            lease = await self._call("POST", f"/v1/nodes/{self._identity.node_id}/heartbeat", body)
        except _Rejected as exc:
            self.state.heartbeats["not_found" if exc.status in _REGISTER_AGAIN else "error"] += 1
            raise
        except httpx.HTTPError:
            self.state.heartbeats["error"] += 1
            raise
        self.state.heartbeats["ok"] += 1
        self.state.last_error = None
        self._adopt(lease)

    async def deregister(self) -> None:
        """Tell orchestratord this node is leaving; best effort."""
        try:
            await self._call("DELETE", f"/v1/nodes/{self._identity.node_id}", None)
        except (httpx.HTTPError, _Rejected) as exc:
            log.info("deregistration failed: %s", exc)
        self.state.registered = False

    def _adopt(self, lease: dict[str, Any]) -> None:
        """Heartbeat at the interval orchestratord asks for, so the lease it grants never lapses."""
        interval = lease.get("heartbeat_interval_ms")
        if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0:
            self.interval_s = interval / 1000

    async def _call(self, method: str, path: str, body: BaseModel | None) -> dict[str, Any]:
        response = await self._http.request(
            method,
            path,
            content=body.model_dump_json() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self._identity.node_token}",
                "Content-Type": "application/json",
            },
        )
        if not response.is_success:
            raise _Rejected(response.status_code, response.text)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}


def fingerprint(pools: list[PoolStatus]) -> tuple[object, ...]:
    """What orchestratord must be told again by a registration when it changes."""
    return tuple(
        (
            p.pool_id,
            p.replica_set,
            p.determinism,
            p.model_digest,
            p.engine_version,
            tuple((r.replica_id, r.endpoint, r.engine_version, r.slots, r.ctx_max) for r in p.replicas),
        )
        for p in pools
    )


def registration_body(
    identity: NodeIdentity, pools: list[PoolStatus], inventory: DeviceInventory
) -> NodeRegistration:
    """The contract's NodeRegistration; replicas whose engine was never read yet are left out."""
    return NodeRegistration(
        node_id=identity.node_id,
        api_url=identity.api_url,
        heartbeat_interval_ms=round(identity.heartbeat_interval_s * 1000),
        cpu_only=inventory.cpu_only,
        devices=[Device.model_validate(d) for d in wire_devices(inventory)],
        pools=[
            PoolRegistration(
                pool_id=p.pool_id,
                engine=p.engine,  # type: ignore[arg-type]
                model_ref=p.model_ref,
                ready=p.ready,
                draining=p.draining,
                last_error=_clip(p.last_error),
                replicas=[
                    ReplicaRegistration(
                        replica_id=r.replica_id,
                        endpoint=r.endpoint,
                        engine_version=r.engine_version or "",
                        model_digest=p.model_digest or "",
                        determinism=p.determinism,
                        slots_total=r.slots,
                        ctx_max=r.ctx_max,
                        ready=r.ready,
                        devices=[r.device],
                        workloads=list(p.workloads),  # type: ignore[arg-type]
                    )
                    for r in registrable(p)
                ],
            )
            for p in pools
        ],
    )


def heartbeat_body(pools: list[PoolStatus], busy: dict[str, int | None]) -> Heartbeat:
    """The contract's Heartbeat: readiness and free slots of the registered replicas."""
    return Heartbeat(
        pools=[
            PoolHeartbeat(
                pool_id=p.pool_id,
                ready=p.ready,
                draining=p.draining,
                last_error=_clip(p.last_error),
                replicas=[
                    ReplicaHeartbeat(replica_id=r.replica_id, ready=r.ready, slots_free=_free(r, busy))
                    for r in registrable(p)
                ],
            )
            for p in pools
        ]
    )


def registrable(pool: PoolStatus) -> list[ReplicaStatus]:
    """Replicas orchestratord can be told about: their engine_version was read from the engine."""
    return [r for r in pool.replicas if r.engine_version is not None and pool.model_digest is not None]


def _free(replica: ReplicaStatus, busy: dict[str, int | None]) -> int | None:
    taken = busy.get(replica.replica_id)
    return None if taken is None else max(0, replica.slots - taken)


def _clip(text: str | None) -> str | None:
    return text[:4096] if text is not None else None
