"""pool_managerd's API, registration and device poll run in one TaskGroup: a job that fails ends the node
with exit 1 and leaves no engine process behind (ORCH-6009)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import pool_managerd.__main__ as node_main
from contracts.config_schema.pool_managerd import PoolManagerdConfig
from pool_managerd.registration import RegistrationClient
from pool_managerd.supervisor import Supervisor
from tests.pool_managerd.pm_support import MOCK_TEMPLATE, free_port_range, pid_alive, wait_for


def mock_node(tmp_path: Path) -> PoolManagerdConfig:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF mock weights")
    return PoolManagerdConfig.model_validate(
        {
            "host_id": "host-jobs",
            "bind": {"host": "127.0.0.1", "port": free_port_range(1)[0]},
            "node_token": "node-token-for-tests-0123",
            "orchestratord_url": "http://127.0.0.1:9",
            "log_dir": str(tmp_path / "logs"),
            "stop_grace_ms": 3000,
            "pools": [
                {
                    "id": "p1",
                    "engine": "llamacpp",
                    "model_ref": str(model),
                    "devices": "cpu",
                    "port_range": list(free_port_range(2)),
                    "command_template": [*MOCK_TEMPLATE, "--model-id", "{model}"],
                }
            ],
        }
    )


@pytest.mark.req("ORCH-6009")
async def test_a_failing_node_job_stops_the_node_with_exit_1_and_no_engine_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisors: list[Supervisor] = []
    engines: list[int] = []

    class Recorded(Supervisor):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            supervisors.append(self)

    async def failing_registration(self: RegistrationClient) -> None:
        await wait_for(lambda: bool(supervisors[0].pids()), 30, "the engine to start")
        engines.extend(supervisors[0].pids())
        raise RuntimeError("registration broke")

    monkeypatch.setattr(node_main, "Supervisor", Recorded)
    monkeypatch.setattr(RegistrationClient, "run", failing_registration)
    code = await asyncio.wait_for(node_main.serve(mock_node(tmp_path)), timeout=60)
    assert code == 1
    assert engines, "the engine never started"
    assert not [pid for pid in engines if pid_alive(pid)]
