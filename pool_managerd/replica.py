"""One supervised engine replica: start, prove ready, watch, and restart after a crash (ORCH-6005..6007).

A replica loops: start the engine process, poll readiness until it passes or the process exits or the
start timeout passes, then probe health until the process exits. Every exit nobody asked for, and every
start timeout, is a crash: the owner decides (breaker, reload trial) whether the replica restarts after its
backoff delay. A port found taken is swapped for the next free one without counting a crash (ORCH-6016).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestrator_core.errors import OrchError, PoolUnready
from pool_managerd.backoff import Backoff
from pool_managerd.devices import DevicePlan
from pool_managerd.ports import port_is_free
from pool_managerd.process import EngineProcess
from pool_managerd.readiness import AdapterFactory, ReadyReport, check_ready, in_flight
from worker_adapters.protocol import EngineAdapter

_READY_POLL_S = 0.2
_LOG_TAIL_BYTES = 4096


class ReplicaState(enum.StrEnum):
    """The replica states of ORCH-6018 (pool.yaml ReplicaState)."""

    STARTING = "starting"
    READY = "ready"
    UNREADY = "unready"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class ReplicaOwner(Protocol):
    """What a replica asks of the replica set it belongs to."""

    async def before_start(self, replica: Replica) -> None:
        """Raise a typed error when the replica must not start (e.g. its model file changed)."""

    def admit(self, replica: Replica, report: ReadyReport) -> None:
        """Raise PoolUnready when the ready replica does not match the set (engine_version)."""

    def crashed(self, replica: Replica, error: str) -> bool:
        """Record a crash; True when the replica should restart after its backoff delay."""

    def relaunch(self, launch: ReplicaLaunch) -> ReplicaLaunch:
        """The same replica on another free port."""


@dataclass(frozen=True)
class ReplicaLaunch:
    """Everything needed to start one replica's engine."""

    replica_id: str
    index: int
    engine: str
    host: str
    port: int
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_path: Path
    device: DevicePlan
    model: Path
    slots: int
    ctx: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class ReplicaTimings:
    """Start timeout (ORCH-6017), stop grace (ORCH-6009) and health probing (ORCH-6006, ORCH-6007)."""

    ready_timeout_s: float = 600.0
    stop_grace_s: float = 10.0
    health_interval_s: float = 2.0
    unhealthy_after: int = 3
    backoff_reset_after_s: float = 60.0


@dataclass
class ReplicaCounters:
    starts: int = 0
    restarts: int = 0
    crashes: int = 0
    last_exit_code: int | None = None
    load_seconds: float | None = None
    pids: list[int] = field(default_factory=list)


class _PortTaken(Exception):
    """The engine could not bind its port because another process holds it."""


class Replica:
    """A supervised engine process with its readiness state."""

    def __init__(
        self,
        launch: ReplicaLaunch,
        owner: ReplicaOwner,
        adapters: AdapterFactory,
        backoff: Backoff,
        timings: ReplicaTimings,
    ) -> None:
        self.launch = launch
        self.replica_id = launch.replica_id
        self._owner = owner
        self._adapters = adapters
        self._backoff = backoff
        self._timings = timings
        self.state = ReplicaState.STOPPED
        self.last_error: str | None = None
        self.report: ReadyReport | None = None
        self.counters = ReplicaCounters()
        self.process: EngineProcess | None = None
        self._adapter: EngineAdapter | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.state is ReplicaState.READY

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.returncode is None else None

    def start(self) -> None:
        """Start supervising; returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"replica {self.replica_id}")

    def mark_stopping(self) -> None:
        if self.state is not ReplicaState.STOPPED:
            self.state = ReplicaState.STOPPING

    async def stop(self, final: ReplicaState = ReplicaState.STOPPED) -> None:
        """Stop the engine (SIGTERM, then SIGKILL after the grace period) and the supervision loop.

        `final` is the state reported afterwards: `failed` when the pool's breaker stopped it.
        """
        self._stopping.set()
        if self.process is not None:
            await self.process.stop(self._timings.stop_grace_s)
        if self._task is not None:
            await self._task
        self.state = final

    def kill_now(self) -> None:
        if self.process is not None:
            self.process.kill_now()

    async def in_flight(self) -> int:
        """Requests the engine is serving; 0 when it is not running."""
        if self._adapter is None or self.pid is None:
            return 0
        return await in_flight(self._adapter)

    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    error = await self._one_life()
                except _PortTaken:
                    self.launch = self._owner.relaunch(self.launch)
                    continue
                if self._stopping.is_set():
                    break
                self.counters.crashes += 1
                self.last_error = error
                self.state = ReplicaState.FAILED
                if not self._owner.crashed(self, error):
                    return
                self.state = ReplicaState.RESTARTING
                delay_s = self._backoff.next_delay_ms() / 1000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)
                self.counters.restarts += 1
        finally:
            if self.process is not None and self.process.returncode is None:
                await self.process.stop(self._timings.stop_grace_s)
            if self._stopping.is_set():
                self.state = ReplicaState.STOPPED

    async def _one_life(self) -> str:
        """Run one engine process until it exits; returns why it ended."""
        self.state = ReplicaState.STARTING
        self.report = None
        if not port_is_free(self.launch.host, self.launch.port):
            raise _PortTaken
        try:
            await self._owner.before_start(self)
            self.process = await EngineProcess.start(self.launch.argv, self.launch.env, self.launch.log_path)
        except OrchError as exc:
            return exc.message
        self.counters.starts += 1
        self.counters.pids.append(self.process.pid)
        adapter = self._adapters(self.launch.engine, self.launch.endpoint)
        self._adapter = adapter
        exited = asyncio.create_task(self.process.wait())
        try:
            return await self._serve(adapter, exited)
        finally:
            self._adapter = None
            await adapter.aclose()
            if not exited.done():
                await self.process.stop(self._timings.stop_grace_s)
            self.counters.last_exit_code = await exited

    async def _serve(self, adapter: EngineAdapter, exited: asyncio.Task[int]) -> str:
        started = time.monotonic()
        try:
            report = await self._become_ready(adapter, exited)
            self.counters.load_seconds = time.monotonic() - started
            self._owner.admit(self, report)
        except PoolUnready as exc:
            if exited.done() and not self._stopping.is_set() and not port_is_free(*self._address):
                raise _PortTaken from exc
            return exc.message
        if exited.done():
            return self._exit_reason(exited.result())
        self.report = report
        self.last_error = None
        self.state = ReplicaState.READY
        await self._watch(adapter, exited)
        return self._exit_reason(exited.result())

    @property
    def _address(self) -> tuple[str, int]:
        return self.launch.host, self.launch.port

    async def _become_ready(self, adapter: EngineAdapter, exited: asyncio.Task[int]) -> ReadyReport:
        deadline = time.monotonic() + self._timings.ready_timeout_s
        last = "no readiness check ran"
        while not exited.done() and not self._stopping.is_set():
            try:
                return await check_ready(adapter)
            except PoolUnready as exc:
                last = exc.message
            if time.monotonic() >= deadline:
                limit = self._timings.ready_timeout_s
                raise PoolUnready(f"not ready within the start timeout of {limit:g} s: {last}")
            await asyncio.wait({exited}, timeout=_READY_POLL_S)
        if exited.done():
            raise PoolUnready(self._exit_reason(exited.result()))
        raise PoolUnready("stopped before ready")

    async def _watch(self, adapter: EngineAdapter, exited: asyncio.Task[int]) -> None:
        """Probe health until the process exits; consecutive failures make the replica unready."""
        ready_since = time.monotonic()
        failures = 0
        while not exited.done():
            await asyncio.wait({exited}, timeout=self._timings.health_interval_s)
            if exited.done() or self._stopping.is_set():
                return
            stayed = time.monotonic() - ready_since
            if self.state is ReplicaState.READY and stayed >= self._timings.backoff_reset_after_s:
                self._backoff.reset()
            health = await adapter.health()
            if health.ready:
                failures = 0
                if self.state is ReplicaState.UNREADY:
                    await self._prove_ready_again(adapter)
                    ready_since = time.monotonic()
                continue
            failures += 1
            if failures >= self._timings.unhealthy_after and self.state is ReplicaState.READY:
                self.state = ReplicaState.UNREADY
                self.last_error = f"{failures} failed health probes: {health.reason or health.state}"

    async def _prove_ready_again(self, adapter: EngineAdapter) -> None:
        with contextlib.suppress(PoolUnready):
            self.report = await check_ready(adapter)
            self.state = ReplicaState.READY
            self.last_error = None

    def _exit_reason(self, code: int) -> str:
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name} (exit code {code})"
            except ValueError:
                how = f"exit code {code}"
        else:
            how = f"exit code {code}"
        tail = _log_tail(self.launch.log_path)
        return f"engine {how}" + (f"; log: {tail}" if tail else "")


def _log_tail(path: Path, lines: int = 2) -> str:
    """The last lines the engine wrote, to make last_error say why it died."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - _LOG_TAIL_BYTES))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("--- start")]
    return " | ".join(kept[-lines:])[-300:]
