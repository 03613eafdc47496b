"""Fixtures for pool_managerd tests: supervisors over real processes that are always stopped at the end."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from pool_managerd.readiness import AdapterFactory
from pool_managerd.spec import NodeSpec, PoolSpec
from pool_managerd.supervisor import Supervisor, build_context
from tests.pool_managerd.pm_support import CPU_ONLY, REPO, pid_alive
from worker_adapters.factory import create_adapter

MakeSupervisor = Callable[..., Awaitable[Supervisor]]


@pytest.fixture
async def make_supervisor(tmp_path: Path) -> AsyncIterator[MakeSupervisor]:
    """Builds and starts supervisors of one pool each; every engine they started is gone afterwards."""
    started: list[Supervisor] = []

    async def make(pool: PoolSpec, adapters: AdapterFactory = create_adapter, **node: object) -> Supervisor:
        spec = NodeSpec(
            host_id="host-test",
            pools=(pool,),
            log_dir=tmp_path / "logs",
            model_cache_dir=REPO / ".cache" / "models",
            stop_grace_s=3.0,
            **node,  # type: ignore[arg-type]
        )
        supervisor = Supervisor(spec, build_context(spec, dict(os.environ), adapters, CPU_ONLY))
        started.append(supervisor)
        await supervisor.start()
        return supervisor

    try:
        yield make
    finally:
        for supervisor in started:
            try:
                await asyncio.wait_for(supervisor.stop(), timeout=20)
            finally:
                for pid in supervisor.pids():
                    if pid_alive(pid):
                        os.killpg(pid, signal.SIGKILL)
        leftovers = [pid for s in started for pid in s.pids() if pid_alive(pid)]
        assert not leftovers, f"engine processes left behind: {leftovers}"
