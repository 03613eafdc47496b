"""One pool: its serving replica set, crash breaker, drain and reload (ORCH-6007, 6008, 6011, 6012).

Reload starts a new replica set beside the serving one and switches to it only when every new replica is
ready; if the new set fails, it is stopped, the old set keeps serving and the reload raises Conflict with
the reason. The retired set drains (in-flight work finishes until the pool's drain deadline) and stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator_core.errors import Conflict, OrchError
from pool_managerd.breaker import CrashBreaker
from pool_managerd.devices import DeviceInventory, DevicePlan, plan_replica_devices, vram_estimate_mb
from pool_managerd.digest import DigestCache
from pool_managerd.engine_command import CommandValues, build_command, effective_slots
from pool_managerd.model_ref import resolve_model_ref
from pool_managerd.ports import PortAllocator
from pool_managerd.readiness import AdapterFactory
from pool_managerd.replica import Replica, ReplicaLaunch, ReplicaTimings
from pool_managerd.replica_set import ReplicaSet, SetIdentity
from pool_managerd.spec import PoolSpec
from pool_managerd.status import PoolStatus


@dataclass
class PoolContext:
    """What every pool of a node shares: host facts, caches and how to reach engines."""

    adapters: AdapterFactory
    inventory: DeviceInventory
    digests: DigestCache
    log_dir: Path
    model_cache_dir: Path
    base_env: Mapping[str, str]
    engine_host: str = "127.0.0.1"
    timings: ReplicaTimings = field(default_factory=ReplicaTimings)
    clock_ms: Callable[[], float] = field(default=lambda: time.monotonic() * 1000)


class Pool:
    """A pool of replicas of one engine and model."""

    def __init__(self, spec: PoolSpec, context: PoolContext) -> None:
        self.spec = spec
        self.pool_id = spec.pool_id
        self._ctx = context
        self._ports = PortAllocator(*spec.port_range, host=context.engine_host)
        self.breaker = CrashBreaker(spec.restart.breaker_crashes, spec.restart.breaker_window_ms)
        self.active: ReplicaSet | None = None
        self.generation = 0
        self.draining = False
        self.drained = False
        self.last_error: str | None = None
        self._lock = asyncio.Lock()
        self._retiring: set[ReplicaSet] = set()
        self._background: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Plan and start the first replica set; raises a typed error for a bad model, device or port."""
        async with self._lock:
            replica_set = await self._plan_set(self.spec.model_ref)
            self.active = replica_set
            replica_set.start()

    async def stop(self) -> None:
        """Stop every replica of every set of this pool."""
        for task in list(self._background):
            task.cancel()
        sets = [s for s in (self.active, *self._retiring) if s is not None]
        await asyncio.gather(*(s.stop() for s in sets))
        for replica_set in sets:
            self._release(replica_set)

    def kill_now(self) -> None:
        for replica_set in (self.active, *self._retiring):
            if replica_set is not None:
                replica_set.kill_now()

    def drain(self, deadline_ms: int | None = None) -> None:
        """Stop taking new work; in-flight requests finish until the deadline, then replicas stop."""
        if self.draining or self.active is None:
            self.draining = True
            return
        self.draining = True
        deadline_s = (deadline_ms if deadline_ms is not None else self.spec.drain_deadline_ms) / 1000
        self._spawn(self._drain_active(self.active, deadline_s))

    async def reload(self, model_ref: str) -> PoolStatus:
        """Switch to a new replica set serving `model_ref`; raises Conflict (old set kept) on failure."""
        if self._lock.locked():
            raise Conflict(
                f"pool {self.pool_id!r}: a reload or reset is already running", pool_id=self.pool_id
            )
        async with self._lock:
            if self.draining and not self.drained:
                raise Conflict(
                    f"pool {self.pool_id!r} is draining; reload after the drain", pool_id=self.pool_id
                )
            try:
                candidate = await self._plan_set(model_ref)
            except OrchError as exc:
                raise self._reload_failed(model_ref, exc.message) from exc
            candidate.start()
            try:
                await candidate.wait_ready(self._ctx.timings.ready_timeout_s)
            except OrchError as exc:
                await candidate.stop()
                self._release(candidate)
                raise self._reload_failed(model_ref, exc.message) from exc
            self._switch_to(candidate)
        return self.status()

    async def reset(self) -> PoolStatus:
        """Close the breaker and start a fresh replica set of the current model."""
        async with self._lock:
            model_ref = self.active.identity.model_ref if self.active else self.spec.model_ref
            old = self.active
            self.active = None
            if old is not None:
                await old.stop()
                self._release(old)
            self.breaker.reset()
            self.last_error = None
            self.draining = self.drained = False
            replica_set = await self._plan_set(model_ref)
            self.active = replica_set
            replica_set.start()
        return self.status()

    def status(self) -> PoolStatus:
        active = self.active
        replicas = active.replica_status() if active else ()
        identity = active.identity if active else None
        ready = bool(active and active.ready_count) and not self.breaker.open and not self.draining
        return PoolStatus(
            pool_id=self.pool_id,
            engine=self.spec.engine,
            model_ref=identity.model_ref if identity else self.spec.model_ref,
            model_digest=identity.model_digest if identity else None,
            engine_version=active.engine_version if active else None,
            replica_set=active.set_id if active else None,
            live=any(r.pid is not None for r in replicas),
            ready=ready,
            draining=self.draining,
            drained=self.drained,
            breaker_open=self.breaker.open,
            last_error=self.breaker.last_error if self.breaker.open else self.last_error,
            slots_total=sum(r.slots for r in replicas if r.ready),
            replicas=replicas,
        )

    def pids(self) -> list[int]:
        """Every engine pid this pool ever started (for tests and shutdown checks)."""
        sets = [s for s in (self.active, *self._retiring) if s is not None]
        return [pid for s in sets for r in s.replicas for pid in r.counters.pids]

    def _crash_policy(self, replica_set: ReplicaSet, replica: Replica, error: str) -> bool:
        if replica_set is not self.active:
            return False  # a reload candidate or a retired set never restarts
        self.last_error = f"replica {replica.replica_id}: {error}"
        opened = self.breaker.record_crash(self._ctx.clock_ms(), self.last_error)
        if self.breaker.open:
            if opened:
                self.breaker.last_error = (
                    f"circuit breaker open: {self.breaker.recent_crashes} crashes within "
                    f"{self.breaker.window_ms} ms; last: {self.last_error}"
                )
                self._spawn(replica_set.stop())
            return False
        return True

    def _switch_to(self, candidate: ReplicaSet) -> None:
        old = self.active
        self.active = candidate  # one assignment: status and registration see either set, never a mix
        self.breaker.reset()
        self.last_error = None
        self.draining = self.drained = False
        if old is not None:
            self._retiring.add(old)
            self._spawn(self._retire(old))

    async def _retire(self, old: ReplicaSet) -> None:
        try:
            await old.drain(self.spec.drain_deadline_ms / 1000)
        finally:
            self._release(old)
            self._retiring.discard(old)

    async def _drain_active(self, replica_set: ReplicaSet, deadline_s: float) -> None:
        await replica_set.drain(deadline_s)
        if replica_set is self.active:
            self.drained = True

    def _reload_failed(self, model_ref: str, reason: str) -> Conflict:
        return Conflict(
            f"reload of pool {self.pool_id!r} to {model_ref!r} failed: {reason}; "
            "the old replica set keeps serving",
            pool_id=self.pool_id,
            engine=self.spec.engine,
        )

    def _release(self, replica_set: ReplicaSet) -> None:
        for port in replica_set.ports:
            self._ports.release(port)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _plan_set(self, model_ref: str) -> ReplicaSet:
        spec, ctx = self.spec, self._ctx
        path = await asyncio.to_thread(resolve_model_ref, model_ref, ctx.model_cache_dir)
        digest = await asyncio.to_thread(ctx.digests.digest, path)
        vram_mb = spec.vram_required_mb or vram_estimate_mb(path.stat().st_size)
        devices = plan_replica_devices(spec.pool_id, spec.devices, spec.replicas, ctx.inventory, vram_mb)
        self.generation += 1
        set_id = f"{spec.pool_id}-g{self.generation}"
        launches: list[ReplicaLaunch] = []
        try:
            for index, device in enumerate(devices):
                launches.append(self._launch(f"{set_id}-r{index}", path, device))
        except OrchError:
            for launch in launches:
                self._ports.release(launch.port)
            raise
        return ReplicaSet(
            set_id,
            SetIdentity(spec.engine, model_ref, path, digest),
            launches,
            ctx.adapters,
            spec.restart,
            ctx.timings,
            ctx.digests,
            self._crash_policy,
        )

    def _launch(self, replica_id: str, model: Path, device: DevicePlan) -> ReplicaLaunch:
        spec, ctx = self.spec, self._ctx
        port = self._ports.allocate()
        try:
            argv = build_command(
                CommandValues(
                    engine=spec.engine,
                    model=model,
                    host=ctx.engine_host,
                    port=port,
                    slots=spec.slots,
                    ctx=spec.ctx,
                    threads=spec.threads,
                    pool_id=spec.pool_id,
                    replica_id=replica_id,
                    determinism=spec.determinism,
                    engine_flags=spec.engine_flags,
                ),
                spec.command_template,
                spec.binary,
            )
        except OrchError:
            self._ports.release(port)
            raise
        return ReplicaLaunch(
            replica_id=replica_id,
            engine=spec.engine,
            host=ctx.engine_host,
            port=port,
            argv=tuple(argv),
            env={**ctx.base_env, **device.env},
            log_path=ctx.log_dir / f"{replica_id}.log",
            device=device,
            slots=effective_slots(spec.engine, spec.determinism, spec.slots),
            ctx=spec.ctx,
        )
