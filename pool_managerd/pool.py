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
from pool_managerd.determinism import running_mode
from pool_managerd.devices import DeviceInventory, DevicePlan, plan_replica_devices, vram_estimate_mb
from pool_managerd.digest import DigestCache
from pool_managerd.engine_command import TRITON, CommandValues, build_command, effective_slots
from pool_managerd.model_ref import resolve_model_ref
from pool_managerd.ports import PortAllocator
from pool_managerd.readiness import AdapterFactory
from pool_managerd.replica import Replica, ReplicaLaunch, ReplicaState, ReplicaTimings
from pool_managerd.replica_set import ReplicaSet, SetIdentity
from pool_managerd.spec import PoolSpec
from pool_managerd.status import LoadTimes, PoolStatus


@dataclass
class PoolContext:
    """What every pool of a node shares: host facts, caches and how to reach engines."""

    adapters: AdapterFactory
    inventory: DeviceInventory
    digests: DigestCache
    log_dir: Path
    model_cache_dir: Path
    base_env: Mapping[str, str]
    config_dir: Path | None = None
    stop_grace_s: float = 10.0
    clock_ms: Callable[[], float] = field(default=lambda: time.monotonic() * 1000)


@dataclass
class PoolCounters:
    """Totals the metrics report (ORCH-8001)."""

    reloads_ok: int = 0
    reloads_conflict: int = 0
    drains: int = 0
    load_times: LoadTimes = field(default_factory=LoadTimes)


class Pool:
    """A pool of replicas of one engine and model."""

    def __init__(self, spec: PoolSpec, context: PoolContext) -> None:
        self.spec = spec
        self.pool_id = spec.pool_id
        self._ctx = context
        self._ports = PortAllocator(*spec.port_range, host=spec.advertise_host)
        self._timings = ReplicaTimings(
            ready_timeout_s=spec.start_timeout_s,
            stop_grace_s=context.stop_grace_s,
            backoff_reset_after_s=spec.restart.backoff_reset_after_ms / 1000,
        )
        self.breaker = CrashBreaker(spec.restart.breaker_crashes, spec.restart.breaker_window_ms)
        self.active: ReplicaSet | None = None
        self.generation = 0
        self.draining = False
        self.drained = False
        self.last_error: str | None = None
        self.drain_deadline_ms: int | None = None
        self._drain_until = 0.0  # monotonic end of the running drain
        self.counters = PoolCounters()
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

    def drain(self, deadline_ms: int | None = None) -> int:
        """Stop taking new work; in-flight requests finish until the deadline, then replicas stop.

        Returns the deadline in force: a second drain while one runs is idempotent and the sooner of the
        two deadlines applies (ORCH-1103). Raises Conflict while a reload runs (ORCH-6020).
        """
        if self.draining and self.drain_deadline_ms is not None:
            if deadline_ms is not None and time.monotonic() + deadline_ms / 1000 < self._drain_until:
                self._drain_until = time.monotonic() + deadline_ms / 1000
                self.drain_deadline_ms = deadline_ms
                if self.active is not None:
                    self.active.shorten_drain(deadline_ms / 1000)
            return self.drain_deadline_ms
        if self._lock.locked():
            raise Conflict(
                f"pool {self.pool_id!r}: a reload is running; drain after it", pool_id=self.pool_id
            )
        deadline = deadline_ms if deadline_ms is not None else self.spec.drain_deadline_ms
        self.draining = True
        self.drain_deadline_ms = deadline
        self._drain_until = time.monotonic() + deadline / 1000
        self.counters.drains += 1
        if self.active is not None:
            self._spawn(self._drain_active(self.active, deadline / 1000))
        else:
            self.drained = True
        return deadline

    async def reload(self, model_ref: str) -> PoolStatus:
        """Switch to a new replica set serving `model_ref`; raises Conflict (old set kept) on failure.

        A reload to the current model_ref restarts the replicas and closes an open breaker (ORCH-6008).
        """
        if self._lock.locked():
            self.counters.reloads_conflict += 1
            raise Conflict(f"pool {self.pool_id!r}: a reload is already running", pool_id=self.pool_id)
        if self.draining and not self.drained:
            self.counters.reloads_conflict += 1
            raise Conflict(f"pool {self.pool_id!r} is draining; reload after the drain", pool_id=self.pool_id)
        async with self._lock:
            try:
                candidate = await self._plan_set(model_ref)
            except OrchError as exc:
                raise self._reload_failed(model_ref, exc.message) from exc
            candidate.start()
            try:
                await candidate.wait_ready(self.spec.reload_timeout_s)
            except OrchError as exc:
                await candidate.stop()
                self._release(candidate)
                raise self._reload_failed(model_ref, exc.message) from exc
            self._switch_to(candidate)
            self.counters.reloads_ok += 1
        return self.status()

    def status(self) -> PoolStatus:
        active = self.active
        replicas = active.replica_status() if active else ()
        identity = active.identity if active else None
        ready = bool(active and active.ready_count) and not self.breaker.open and not self.draining
        return PoolStatus(
            pool_id=self.pool_id,
            engine=self.spec.engine,
            determinism=running_mode(self.spec),
            model_ref=identity.model_ref if identity else self.spec.model_ref,
            model_digest=active.model_digest if active else None,
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
            workloads=self.spec.workloads,
        )

    def pids(self) -> list[int]:
        """Every engine pid this pool ever started (for tests and shutdown checks)."""
        sets = [s for s in (self.active, *self._retiring) if s is not None]
        return [pid for s in sets for r in s.replicas for pid in r.counters.pids]

    def crashed(self, replica_set: ReplicaSet, replica: Replica, error: str) -> bool:
        """A replica crashed: count it against the breaker; True when it may restart."""
        if replica_set is not self.active:
            return False  # a reload candidate or a retired set never restarts
        self.last_error = f"replica {replica.replica_id}: {error}"
        opened = self.breaker.record_crash(self._ctx.clock_ms(), self.last_error)
        if self.breaker.open:
            if opened:
                self.breaker.last_error = (
                    f"circuit breaker open: {self.breaker.recent_crashes} crashes within "
                    f"{self.breaker.window_ms} ms; last: {self.last_error}; reload the pool to reset it"
                )
                self._spawn(replica_set.stop(ReplicaState.FAILED))
            return False
        return True

    def loaded(self, replica_set: ReplicaSet, seconds: float) -> None:
        self.counters.load_times.observe(seconds)

    def relaunch(self, launch: ReplicaLaunch) -> ReplicaLaunch:
        """The same replica on the next free port; the taken port is not counted as a crash."""
        fresh = self._launch(launch.index, launch.model, launch.device)
        self._ports.release(launch.port)
        return fresh

    def _switch_to(self, candidate: ReplicaSet) -> None:
        old = self.active
        self.active = candidate  # one assignment: status and registration see either set, never a mix
        self.breaker.reset()
        self.last_error = None
        self.draining = self.drained = False
        self.drain_deadline_ms = None
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
        self.counters.reloads_conflict += 1
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
        path = await asyncio.to_thread(resolve_model_ref, model_ref, ctx.model_cache_dir, ctx.config_dir)
        # Triton's weights are wherever its model repository points; its running config gives the digest.
        digest = None if spec.engine == TRITON else await asyncio.to_thread(ctx.digests.digest, path)
        vram_mb = vram_estimate_mb(spec.vram_bytes_per_replica or _size_of(path))
        devices = plan_replica_devices(spec.pool_id, spec.devices, spec.replicas, ctx.inventory, vram_mb)
        self.generation += 1
        # Two index blocks alternate, so a reload's new replicas never reuse the serving ones' ids.
        first_index = (1 - self.generation % 2) * spec.replicas
        launches: list[ReplicaLaunch] = []
        try:
            for offset, device in enumerate(devices):
                launches.append(self._launch(first_index + offset, path, device))
        except OrchError:
            for launch in launches:
                self._ports.release(launch.port)
            raise
        return ReplicaSet(
            f"{spec.pool_id}-g{self.generation}",
            SetIdentity(spec.engine, model_ref, path, digest),
            launches,
            ctx.adapters,
            spec.restart,
            self._timings,
            ctx.digests,
            self,
        )

    def _launch(self, index: int, model: Path, device: DevicePlan) -> ReplicaLaunch:
        spec, ctx = self.spec, self._ctx
        replica_id = f"{spec.pool_id}-r{index}"
        port = self._ports.allocate()
        try:
            argv = build_command(
                CommandValues(
                    engine=spec.engine,
                    model=model,
                    host=spec.advertise_host,
                    port=port,
                    slots=spec.slots,
                    ctx=spec.ctx,
                    threads=spec.threads,
                    pool_id=spec.pool_id,
                    replica_id=replica_id,
                    determinism=spec.determinism,
                    engine_flags=spec.engine_flags,
                    model_id=spec.model_id,
                ),
                spec.command_template,
                spec.binary,
            )
        except OrchError:
            self._ports.release(port)
            raise
        return ReplicaLaunch(
            replica_id=replica_id,
            index=index,
            engine=spec.engine,
            host=spec.advertise_host,
            port=port,
            argv=tuple(argv),
            env={**ctx.base_env, **device.env},
            log_path=ctx.log_dir / f"{replica_id}.log",
            device=device,
            model=model,
            slots=effective_slots(spec.engine, spec.determinism, spec.slots),
            ctx=spec.ctx,
        )


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size
