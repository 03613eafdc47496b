"""Replica start timeout, the states and fields a replica reports, and drain/reload conflicts on a pool.

Uses the mock engine, which can answer "Loading model" for as long as it is told to (`--loading-s`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from contracts.api_types.pool import PoolHealth
from orchestrator_core.errors import Conflict
from pool_managerd.api import create_app
from pool_managerd.registration import RegistrationState
from pool_managerd.spec import PoolSpec, RestartPolicy
from pool_managerd.supervisor import Supervisor
from tests.pool_managerd.conftest import MakeSupervisor
from tests.pool_managerd.pm_support import MOCK_TEMPLATE, free_port_range, pid_alive, wait_for

TOKEN = "node-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SPEC_STATES = {"starting", "ready", "unready", "restarting", "stopping", "stopped", "failed"}


def mock_pool(model: Path, loading_s: float = 0.0, **fields: object) -> PoolSpec:
    return PoolSpec(
        pool_id="mock",
        engine="llamacpp",
        model_ref=str(model),
        port_range=free_port_range(6),
        command_template=(*MOCK_TEMPLATE, "--loading-s", str(loading_s)),
        **fields,  # type: ignore[arg-type]
    )


def model_file(tmp_path: Path, name: str = "tiny.gguf") -> Path:
    model = tmp_path / name
    model.write_bytes(b"GGUF mock weights " + name.encode())
    return model


@pytest.fixture
async def http_for() -> AsyncIterator[list[httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


def client_for(supervisor: Supervisor, clients: list[httpx.AsyncClient]) -> httpx.AsyncClient:
    app = create_app(supervisor, TOKEN, lambda: RegistrationState(registered=True))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pool")
    clients.append(client)
    return client


@pytest.mark.req("ORCH-6017", "ORCH-6018")
async def test_replica_not_ready_within_the_start_timeout_is_killed_counted_as_a_crash_and_restarted(
    make_supervisor: MakeSupervisor, tmp_path: Path, http_for: list[httpx.AsyncClient]
) -> None:
    supervisor = await make_supervisor(
        mock_pool(
            model_file(tmp_path),
            loading_s=60,
            # Long enough for the mock to be listening (and answering "Loading model") on a loaded machine.
            start_timeout_s=3,
            restart=RestartPolicy(backoff_initial_ms=1500, breaker_crashes=5),
        )
    )
    pool = supervisor.pool("mock")
    await wait_for(lambda: pool.status().replicas[0].pid is not None, 5, "the engine to start")
    first = pool.status().replicas[0]
    assert (first.state, first.ready, first.restarts, first.crashes) == ("starting", False, 0, 0)
    assert first.pid is not None

    await wait_for(lambda: pool.status().replicas[0].crashes == 1, 10, "the start timeout to count a crash")
    timed_out = pool.status().replicas[0]
    assert not pid_alive(first.pid), "the engine that missed its start timeout must be killed"
    assert timed_out.state == "restarting"
    assert (timed_out.pid, timed_out.restarts) == (None, 0)
    assert timed_out.last_exit_code is not None
    assert timed_out.last_error is not None and "start timeout of 3 s" in timed_out.last_error
    assert "Loading model" in timed_out.last_error
    assert pool.status().last_error is not None and "start timeout" in pool.status().last_error

    # The pool health reports the same state and fields over the API.
    health = await client_for(supervisor, http_for).get("/v1/pools/mock/health", headers=AUTH)
    body = PoolHealth.model_validate(health.json())
    reported = body.replicas[0]
    assert (reported.state, reported.pid, reported.port, reported.restarts) == (
        "restarting",
        None,
        timed_out.port,
        0,
    )
    assert (reported.last_exit_code, reported.last_error) == (timed_out.last_exit_code, timed_out.last_error)

    await wait_for(lambda: pool.status().replicas[0].restarts == 1, 5, "the restart after the backoff")
    await wait_for(lambda: pool.status().replicas[0].pid is not None, 5, "the second engine to start")
    again = pool.status().replicas[0]
    assert again.state == "starting" and again.pid != first.pid


@pytest.mark.req("ORCH-6018")
async def test_replica_reports_ready_then_stopping_and_stopped_with_its_fields(
    make_supervisor: MakeSupervisor, tmp_path: Path, http_for: list[httpx.AsyncClient]
) -> None:
    supervisor = await make_supervisor(mock_pool(model_file(tmp_path), start_timeout_s=30.0))
    pool = supervisor.pool("mock")
    await wait_for(lambda: pool.status().ready, 10, "the mock pool to be ready")
    http = client_for(supervisor, http_for)
    ready = PoolHealth.model_validate((await http.get("/v1/pools/mock/health", headers=AUTH)).json())
    replica = ready.replicas[0]
    assert (replica.state, replica.ready, replica.restarts, replica.last_exit_code, replica.last_error) == (
        "ready",
        True,
        0,
        None,
        None,
    )
    assert replica.pid is not None and pid_alive(replica.pid)
    assert replica.port == pool.status().replicas[0].port and replica.port >= pool.spec.port_range[0]

    seen: set[str] = set()

    async def watch() -> None:
        while True:
            seen.add(pool.status().replicas[0].state)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        assert (
            await http.post("/v1/pools/mock/drain", headers=AUTH, json={"deadline_ms": 2000})
        ).status_code == 202
        await wait_for(lambda: pool.status().replicas[0].state == "stopped", 5, "the drained replica to stop")
    finally:
        watcher.cancel()
    stopped = PoolHealth.model_validate((await http.get("/v1/pools/mock/health", headers=AUTH)).json())
    assert (stopped.replicas[0].state, stopped.replicas[0].pid, stopped.replicas[0].ready) == (
        "stopped",
        None,
        False,
    )
    assert stopped.replicas[0].last_exit_code is not None
    assert not pid_alive(replica.pid)
    assert "stopping" in seen
    assert seen <= SPEC_STATES


@pytest.mark.req("ORCH-6018", "ORCH-6008")
async def test_replicas_stopped_by_an_open_breaker_report_failed(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    supervisor = await make_supervisor(
        mock_pool(
            model_file(tmp_path),
            loading_s=60,
            start_timeout_s=0.3,
            restart=RestartPolicy(backoff_initial_ms=100, breaker_crashes=2, breaker_window_ms=60_000),
        )
    )
    pool = supervisor.pool("mock")
    await wait_for(lambda: pool.status().breaker_open, 8, "two start timeouts to open the breaker")
    await wait_for(lambda: pool.status().replicas[0].state == "failed", 5, "the replica to report failed")
    replica = pool.status().replicas[0]
    assert (replica.crashes, replica.pid, replica.ready) == (2, None, False)
    assert replica.last_error is not None and "start timeout" in replica.last_error


@pytest.mark.req("ORCH-6020", "ORCH-1104")
async def test_drain_or_second_reload_while_a_reload_runs_is_409(
    make_supervisor: MakeSupervisor, tmp_path: Path, http_for: list[httpx.AsyncClient]
) -> None:
    supervisor = await make_supervisor(mock_pool(model_file(tmp_path), start_timeout_s=30.0))
    pool = supervisor.pool("mock")
    await wait_for(lambda: pool.status().ready, 10, "the mock pool to be ready")
    http = client_for(supervisor, http_for)
    # From now on new replicas answer "Loading model" for 60 s, so the reload below keeps running until its
    # 2 s reload timeout fails it (which also stops its replicas).
    pool.spec = replace(
        pool.spec, command_template=(*MOCK_TEMPLATE, "--loading-s", "60"), reload_timeout_s=2.0
    )
    other = model_file(tmp_path, "other.gguf")
    reload = asyncio.create_task(pool.reload(str(other)))
    try:
        await wait_for(lambda: pool.generation == 2, 5, "the reload to start its new replica set")
        second = await http.post("/v1/pools/mock/reload", headers=AUTH, json={"new_model_ref": str(other)})
        assert second.status_code == 409
        assert (second.json()["code"], second.json()["pool_id"]) == ("CONFLICT", "mock")
        assert "reload is already running" in second.json()["message"]
        drain = await http.post("/v1/pools/mock/drain", headers=AUTH, json={"deadline_ms": 1000})
        assert drain.status_code == 409
        assert drain.json()["code"] == "CONFLICT" and "reload is running" in drain.json()["message"]
        assert not pool.draining and pool.status().ready, "the refused drain must not start"
    finally:
        with pytest.raises(Conflict):
            await reload
    assert pool.status().ready and pool.status().model_ref != str(other)


@pytest.mark.req("ORCH-6020")
async def test_reload_while_a_drain_runs_is_409(make_supervisor: MakeSupervisor, tmp_path: Path) -> None:
    supervisor = await make_supervisor(mock_pool(model_file(tmp_path), start_timeout_s=30.0))
    pool = supervisor.pool("mock")
    await wait_for(lambda: pool.status().ready, 10, "the mock pool to be ready")
    pool.drain(5000)
    assert pool.draining and not pool.drained
    with pytest.raises(Conflict, match="is draining; reload after the drain") as refused:
        await pool.reload(str(model_file(tmp_path, "other.gguf")))
    assert refused.value.code == "CONFLICT"
    assert pool.generation == 1, "the refused reload must not start a replica set"
