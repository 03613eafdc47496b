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

from pool_managerd.backoff import Backoff
from pool_managerd.devices import DeviceInventory
from pool_managerd.status import PoolStatus

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
    """What the client knows about its standing with orchestratord (reported by /health)."""

    registered: bool = False
    registrations: int = 0
    heartbeats: int = 0
    last_error: str | None = None
    fingerprint: tuple[object, ...] = field(default_factory=tuple)


class _Rejected(Exception):
    """orchestratord answered, but not with success; the status says what to do next."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


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
        self._retry = retry or Backoff(initial_ms=250, max_ms=10_000)
        self._sleep = sleep
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
            await self._sleep(self._identity.heartbeat_interval_s)

    async def step(self) -> None:
        """One round: register when needed, else heartbeat (re-registering on 404)."""
        pools = self._pools()
        if not self.state.registered or self.state.fingerprint != fingerprint(pools):
            await self.register(pools)
            return
        try:
            await self.heartbeat(pools)
        except _Rejected as exc:
            if exc.status != 404:
                raise
            log.info("orchestratord does not know node %s; registering again", self._identity.node_id)
            await self.register(pools)

    async def register(self, pools: list[PoolStatus]) -> None:
        body = registration_body(self._identity, pools, self._inventory())
        await self._call("POST", "/v1/nodes/register", body)
        self.state.registered = True
        self.state.registrations += 1
        self.state.fingerprint = fingerprint(pools)
        self.state.last_error = None

    async def heartbeat(self, pools: list[PoolStatus]) -> None:
        body = heartbeat_body(pools, await self._load())
        await self._call("POST", f"/v1/nodes/{self._identity.node_id}/heartbeat", body)
        self.state.heartbeats += 1
        self.state.last_error = None

    async def deregister(self) -> None:
        """Tell orchestratord this node is leaving; best effort."""
        try:
            await self._call("DELETE", f"/v1/nodes/{self._identity.node_id}", None)
        except (httpx.HTTPError, _Rejected) as exc:
            log.info("deregistration failed: %s", exc)
        self.state.registered = False

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        response = await self._http.request(
            method,
            path,
            json=body,
            headers={"Authorization": f"Bearer {self._identity.node_token}"},
        )
        if response.is_success:
            return
        raise _Rejected(response.status_code, response.text)


def fingerprint(pools: list[PoolStatus]) -> tuple[object, ...]:
    """What orchestratord must be told again by a registration when it changes."""
    return tuple(
        (
            p.pool_id,
            p.replica_set,
            p.model_digest,
            p.engine_version,
            tuple((r.replica_id, r.endpoint, r.engine_version, r.slots, r.ctx_max) for r in p.replicas),
        )
        for p in pools
    )


def registration_body(
    identity: NodeIdentity, pools: list[PoolStatus], inventory: DeviceInventory
) -> dict[str, Any]:
    return {
        "node_id": identity.node_id,
        "api_url": identity.api_url,
        "heartbeat_interval_ms": round(identity.heartbeat_interval_s * 1000),
        "cpu_only": inventory.cpu_only,
        "devices": [
            {
                "index": g.index,
                "name": g.name,
                "vram_total_mb": g.memory_total_mb,
                "vram_free_mb": g.memory_free_mb,
                "utilization_pct": g.utilization_pct,
            }
            for g in inventory.gpus
        ],
        "pools": [
            {
                "pool_id": p.pool_id,
                "engine": p.engine,
                "model_ref": p.model_ref,
                "model_digest": p.model_digest,
                "engine_version": p.engine_version,
                "ready": p.ready,
                "draining": p.draining,
                "last_error": p.last_error,
                "replicas": [
                    {
                        "replica_id": r.replica_id,
                        "replica_set": r.replica_set,
                        "endpoint": r.endpoint,
                        "engine": p.engine,
                        "engine_version": r.engine_version,
                        "model_digest": p.model_digest,
                        "slots": r.slots,
                        "ctx_max": r.ctx_max,
                        "device": r.device,
                        "ready": r.ready,
                    }
                    for r in p.replicas
                ],
            }
            for p in pools
        ],
    }


def heartbeat_body(pools: list[PoolStatus], busy: dict[str, int | None]) -> dict[str, Any]:
    return {
        "pools": [
            {
                "pool_id": p.pool_id,
                "ready": p.ready,
                "draining": p.draining,
                "last_error": p.last_error,
                "replicas": [
                    {"replica_id": r.replica_id, "ready": r.ready, "slots_busy": busy.get(r.replica_id)}
                    for r in p.replicas
                ],
            }
            for p in pools
        ]
    }
