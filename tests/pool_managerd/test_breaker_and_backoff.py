"""Crash handling with fast engines: the circuit breaker with an engine that exits at once, restart
backoff with the mock engine server, and a reload that closes the breaker."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from pool_managerd.spec import PoolSpec, RestartPolicy
from tests.pool_managerd.conftest import MakeSupervisor
from tests.pool_managerd.pm_support import MOCK_TEMPLATE, free_port_range, pid_alive, wait_for


def model_file(tmp_path: Path) -> Path:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF mock weights")
    return model


@pytest.mark.req("ORCH-6008")
async def test_engine_that_keeps_exiting_trips_the_breaker(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    pool_spec = PoolSpec(
        pool_id="crashy",
        engine="llamacpp",
        model_ref=str(model_file(tmp_path)),
        port_range=free_port_range(2),
        command_template=("/bin/false", "{model}", "{port}"),
        restart=RestartPolicy(
            backoff_initial_ms=20, backoff_max_ms=40, breaker_crashes=3, breaker_window_ms=60_000
        ),
    )
    supervisor = await make_supervisor(pool_spec)
    pool = supervisor.pool("crashy")
    await wait_for(lambda: pool.status().breaker_open, 10, "the breaker to open")
    status = pool.status()
    assert not status.ready
    assert status.last_error is not None
    assert status.last_error.startswith("circuit breaker open: 3 crashes within 60000 ms")
    assert "exit code 1" in status.last_error
    await asyncio.sleep(0.3)
    replica = pool.status().replicas[0]
    assert (replica.crashes, replica.restarts, replica.state) == (3, 2, "failed")


@pytest.mark.req("ORCH-6008", "ORCH-6012")
async def test_reload_with_the_current_model_closes_the_breaker(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    allowed = tmp_path / "engine-may-run"
    script = f'test -f {allowed} || exit 3; exec "$0" "$@"'
    model = model_file(tmp_path)
    pool_spec = PoolSpec(
        pool_id="flaky",
        engine="llamacpp",
        model_ref=str(model),
        port_range=free_port_range(4),
        command_template=("/bin/sh", "-c", script, *MOCK_TEMPLATE),
        restart=RestartPolicy(
            backoff_initial_ms=20, backoff_max_ms=40, breaker_crashes=2, breaker_window_ms=60_000
        ),
        start_timeout_s=30.0,
        reload_timeout_s=30.0,
    )
    supervisor = await make_supervisor(pool_spec)
    pool = supervisor.pool("flaky")
    await wait_for(lambda: pool.status().breaker_open, 10, "the breaker to open")
    assert "exit code 3" in (pool.status().last_error or "")
    allowed.touch()
    status = await pool.reload(str(model))
    assert status.ready and not status.breaker_open and status.last_error is None
    assert status.engine_version == "b0-mock"


@pytest.mark.req("ORCH-6007")
async def test_restarts_wait_a_doubling_backoff(make_supervisor: MakeSupervisor, tmp_path: Path) -> None:
    pool_spec = PoolSpec(
        pool_id="mock",
        engine="llamacpp",
        model_ref=str(model_file(tmp_path)),
        port_range=free_port_range(2),
        command_template=MOCK_TEMPLATE,
        restart=RestartPolicy(backoff_initial_ms=400, backoff_max_ms=5000, breaker_crashes=5),
        start_timeout_s=30.0,
    )
    supervisor = await make_supervisor(pool_spec)
    pool = supervisor.pool("mock")
    gaps = []
    for _ in range(2):
        await wait_for(lambda: pool.status().ready, 30, "the mock replica to be ready")
        pid = pool.status().replicas[0].pid
        assert pid is not None
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda old=pid: pool.status().replicas[0].pid not in (None, old), 10, "a new engine")
        gaps.append(time.monotonic() - killed_at)
        assert not pid_alive(pid)
    await wait_for(lambda: pool.status().ready, 30, "the mock replica to be ready again")
    assert gaps[0] >= 0.4
    assert gaps[1] >= 0.8
    replica = pool.status().replicas[0]
    assert (replica.restarts, replica.crashes) == (2, 2)
