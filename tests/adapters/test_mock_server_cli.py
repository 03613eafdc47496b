"""The mock engine as a separate process: command line flags and run-time faults over /admin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from orchestrator_core.errors import WorkerReset
from test_harness.llama_server import free_port
from tests.adapters.helpers import collect, fast_options, request
from worker_adapters.factory import create_adapter

pytestmark = pytest.mark.req("ORCH-7014")


@pytest.fixture
def mock_process() -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mock_engine",
        "--wire",
        "tgi",
        "--port",
        str(port),
        "--slots",
        "2",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline().decode()
        assert f"127.0.0.1:{port}" in banner, banner
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


async def test_cli_server_speaks_the_wire_and_takes_faults_at_run_time(mock_process: str) -> None:
    adapter = create_adapter("tgi", mock_process, fast_options())
    try:
        _, final = await collect(adapter, request(max_tokens=5))
        async with httpx.AsyncClient(base_url=mock_process) as admin:
            changed = await admin.post("/admin/faults", json={"fail_at": 2})
            refused = await admin.post("/admin/faults", json={"fail_at": "soon"})
            with pytest.raises(WorkerReset):
                await collect(adapter, request(max_tokens=5))
            stats = (await admin.get("/admin/stats")).json()
        props = await adapter.props()
    finally:
        await adapter.aclose()
    assert final.tokens_out == 5
    assert changed.status_code == 200 and changed.json()["fail_at"] == 2
    assert refused.status_code == 422
    assert (stats["started"], stats["finished"], stats["ended_early"]) == (2, 1, 1)
    assert props.slots_total == 2
