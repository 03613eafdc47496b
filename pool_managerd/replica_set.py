"""A replica set: replicas that share one identity (engine, engine_version, model_digest).

Replicas of different engine_version or model_digest never share a set (ORCH-3004, ORCH-6012): the
first ready replica fixes the set's engine_version and a replica reporting another one is refused; before
every (re)start the model file is hashed again (cached by size and mtime) and a changed file is refused.
An engine whose weights pool_managerd does not hash (Triton) has no digest before it runs: the first ready
replica fixes it from the model configuration the engine reports, and a replica whose configuration gives
another digest is refused (ORCH-7016).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator_core.errors import PoolUnavailable, PoolUnready
from pool_managerd.backoff import Backoff
from pool_managerd.digest import DigestCache, config_digest
from pool_managerd.readiness import AdapterFactory, ReadyReport
from pool_managerd.replica import Replica, ReplicaLaunch, ReplicaState, ReplicaTimings
from pool_managerd.spec import RestartPolicy
from pool_managerd.status import ReplicaStatus

_DRAIN_POLL_S = 0.25


class SetHooks(Protocol):
    """What a replica set asks of its pool."""

    def crashed(self, replica_set: ReplicaSet, replica: Replica, error: str) -> bool:
        """Record a crash; True when the replica should restart."""

    def loaded(self, replica_set: ReplicaSet, seconds: float) -> None:
        """A replica became ready `seconds` after its engine was spawned."""

    def relaunch(self, launch: ReplicaLaunch) -> ReplicaLaunch:
        """The same replica on another free port of the pool's range."""


@dataclass(frozen=True)
class SetIdentity:
    """What every replica of a set shares; engine_version is learned from the first ready replica, and
    so is model_digest when it is None here (it comes from the engine's model configuration)."""

    engine: str
    model_ref: str
    model_path: Path
    model_digest: str | None


class ReplicaSet:
    """Replicas of one identity, started, drained and stopped together."""

    def __init__(
        self,
        set_id: str,
        identity: SetIdentity,
        launches: Sequence[ReplicaLaunch],
        adapters: AdapterFactory,
        restart: RestartPolicy,
        timings: ReplicaTimings,
        digests: DigestCache,
        hooks: SetHooks,
    ) -> None:
        self.set_id = set_id
        self.identity = identity
        self._drain_deadline: float | None = None
        self.engine_version: str | None = None
        self.model_digest = identity.model_digest
        self._digests = digests
        self._hooks = hooks
        self.replicas = tuple(
            Replica(
                launch,
                self,
                adapters,
                Backoff(restart.backoff_initial_ms, restart.backoff_max_ms),
                timings,
            )
            for launch in launches
        )

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(r.launch.port for r in self.replicas)

    @property
    def ready_count(self) -> int:
        return sum(1 for r in self.replicas if r.ready)

    async def before_start(self, replica: Replica) -> None:
        if self.identity.model_digest is None:
            return  # the engine's configuration gives the digest once it runs (admit)
        digest = await asyncio.to_thread(self._digests.digest, self.identity.model_path)
        if digest != self.identity.model_digest:
            raise PoolUnavailable(
                f"model file {str(self.identity.model_path)!r} changed on disk "
                f"({self.identity.model_digest} -> {digest}); reload the pool to serve it"
            )

    def admit(self, replica: Replica, report: ReadyReport) -> None:
        digest = self._reported_digest(report)
        if self.engine_version is not None and report.engine_version != self.engine_version:
            raise PoolUnready(
                f"engine_version {report.engine_version!r} differs from the replica set's "
                f"{self.engine_version!r}; replicas of different versions never share a set"
            )
        if self.model_digest is not None and digest != self.model_digest:
            raise PoolUnready(
                f"model_digest {digest} of the engine's model configuration differs from the replica "
                f"set's {self.model_digest}; replicas of different models never share a set"
            )
        self.engine_version = report.engine_version
        self.model_digest = digest
        if replica.counters.load_seconds is not None:
            self._hooks.loaded(self, replica.counters.load_seconds)

    def _reported_digest(self, report: ReadyReport) -> str:
        """The file digest, or for an engine-configured identity the digest of its model configuration."""
        if self.identity.model_digest is not None:
            return self.identity.model_digest
        if report.model_config is None:
            raise PoolUnready(
                f"{self.identity.engine} reported no model configuration to take the model_digest from"
            )
        return config_digest(report.model_config, self.identity.model_path)

    def crashed(self, replica: Replica, error: str) -> bool:
        return self._hooks.crashed(self, replica, error)

    def relaunch(self, launch: ReplicaLaunch) -> ReplicaLaunch:
        return self._hooks.relaunch(launch)

    def start(self) -> None:
        for replica in self.replicas:
            replica.start()

    async def stop(self, final: ReplicaState = ReplicaState.STOPPED) -> None:
        await asyncio.gather(*(r.stop(final) for r in self.replicas))

    def kill_now(self) -> None:
        for replica in self.replicas:
            replica.kill_now()

    async def wait_ready(self, timeout_s: float) -> None:
        """Wait until every replica is ready; raises PoolUnready with the first failure or on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            failed = next((r for r in self.replicas if r.state is ReplicaState.FAILED), None)
            if failed is not None:
                raise PoolUnready(f"replica {failed.replica_id} failed: {failed.last_error}")
            if all(r.ready for r in self.replicas):
                return
            if time.monotonic() >= deadline:
                waiting = [r.replica_id for r in self.replicas if not r.ready]
                raise PoolUnready(f"replicas {', '.join(waiting)} not ready after {timeout_s:g} s")
            await asyncio.sleep(0.1)

    def shorten_drain(self, deadline_s: float) -> None:
        """Bring the drain deadline forward to `deadline_s` from now if that is sooner (ORCH-1103)."""
        sooner = time.monotonic() + deadline_s
        if self._drain_deadline is None or sooner < self._drain_deadline:
            self._drain_deadline = sooner

    async def drain(self, deadline_s: float) -> None:
        """Let in-flight requests finish until the deadline, then stop every replica (ORCH-6011)."""
        self.shorten_drain(deadline_s)
        for replica in self.replicas:
            replica.mark_stopping()
        while time.monotonic() < (self._drain_deadline or 0.0):
            busy = await asyncio.gather(*(r.in_flight() for r in self.replicas), return_exceptions=True)
            # An engine that cannot answer is not serving anything worth waiting for.
            if all(isinstance(n, BaseException) or n == 0 for n in busy):
                break
            await asyncio.sleep(_DRAIN_POLL_S)
        await self.stop()

    def replica_status(self) -> tuple[ReplicaStatus, ...]:
        return tuple(
            ReplicaStatus(
                replica_id=r.replica_id,
                replica_set=self.set_id,
                endpoint=r.launch.endpoint,
                state=str(r.state),
                ready=r.ready,
                pid=r.pid,
                port=r.launch.port,
                last_exit_code=r.counters.last_exit_code,
                device=r.launch.device.label,
                slots=r.report.slots_total if r.report else r.launch.slots,
                ctx_max=r.report.ctx_max if r.report else r.launch.ctx,
                engine_version=r.report.engine_version if r.report else None,
                restarts=r.counters.restarts,
                crashes=r.counters.crashes,
                last_error=r.last_error,
                log_path=str(r.launch.log_path),
            )
            for r in self.replicas
        )
