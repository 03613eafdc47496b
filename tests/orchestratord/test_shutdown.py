"""Graceful shutdown: 503 for new work, queued tasks end with a typed error, running ones finish in time;
the daemon's open streams end as soon as a SIGTERM arrives."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mock_engine.faults import Faults, MockConfig
from mock_engine.server import serve_mock
from tests.orchestratord.orchd_harness import MODEL, MockReplica, make_config, read_stream, running_daemon

ONE_SLOW_SLOT = [MockReplica(slots=1, faults=Faults(token_delay_ms=20))]


@pytest.mark.req("ORCH-4004")
async def test_shutdown_refuses_new_work_ends_queued_and_lets_running_finish() -> None:
    config = make_config(shutdown_grace_ms=3_000)
    async with running_daemon(ONE_SLOW_SLOT, config=config) as daemon:
        running = (await daemon.submit(max_tokens=10)).json()["task_id"]
        await daemon.wait_state(running, "running")
        queued = (await daemon.submit(max_tokens=10)).json()["task_id"]
        shutdown = asyncio.create_task(daemon.services.shutdown.shutdown())
        await asyncio.sleep(0.01)
        refused = await daemon.submit()
        assert refused.status_code == 503 and refused.json()["code"] == "POOL_UNAVAILABLE"
        assert (await daemon.client.get("/readyz")).status_code == 503
        ended = await daemon.wait_state(queued, "failed")
        assert ended["error"]["code"] == "POOL_UNAVAILABLE"
        await shutdown
        assert (await daemon.client.get(f"/v1/tasks/{running}")).json()["state"] == "succeeded"


@pytest.mark.req("ORCH-4004", "ORCH-4003")
async def test_running_tasks_past_the_deadline_end_with_a_typed_error_and_free_their_slot() -> None:
    config = make_config(shutdown_grace_ms=100)
    async with running_daemon(ONE_SLOW_SLOT, config=config) as daemon:
        running = (await daemon.submit(max_tokens=1000)).json()["task_id"]
        await daemon.wait_state(running, "running")
        await daemon.services.shutdown.shutdown()
        _, events = await read_stream(daemon.client, running)
        assert events[-1].event == "error" and events[-1].data["code"] == "POOL_UNAVAILABLE"
        assert await daemon.engines["r0"].wait_idle(1.0)
        assert daemon.free_slots() == daemon.total_slots()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until_ready(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    """Polls /readyz: the daemon is another process, with nothing to await but its answers."""
    async with asyncio.timeout(30):
        while True:
            assert process.returncode is None, "orchestratord exited early"
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def until_cut(chunks: AsyncIterator[bytes]) -> None:
    """Reads a stream until it ends; a cut connection ends it too."""
    try:
        async for _ in chunks:
            pass
    except httpx.TransportError:
        pass


@pytest.mark.slow
@pytest.mark.req("ORCH-4004", "ORCH-1065", "ORCH-1083")
async def test_sigterm_ends_the_open_streams_at_once_and_the_daemon_exits_0(tmp_path: Path) -> None:
    async with serve_mock("llamacpp", MockConfig(slots=2), Faults(token_delay_ms=20)) as engine:
        port = free_port()
        config = {
            "bind": {"host": "127.0.0.1", "port": port},
            # uvicorn waits up to grace + 1 s for open responses: streams left open would hold it 4 s.
            "shutdown_grace_ms": 3000,
            "streaming": {"disconnect_grace_ms": 100},
            "replicas": [
                {"id": "r0", "pool_id": "pool-a", "engine": "llamacpp", "base_url": engine.base_url}
                | {"model_ref": MODEL, "slots": 2, "ctx_max": 4096}
            ],
        }
        config_file = tmp_path / "orchestratord.json"
        config_file.write_text(json.dumps(config), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHD_")}
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "orchestratord", "--config", str(config_file)),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                await until_ready(client, process)
                task = {"model_ref": MODEL, "prompt": "long story", "max_tokens": 2000}
                admitted = await client.post("/v1/tasks", json=task)
                assert admitted.status_code == 202, admitted.text
                task_id = admitted.json()["task_id"]
                chat = {"model": MODEL, "prompt": "long story", "max_tokens": 2000, "stream": True}
                async with (
                    client.stream("GET", f"/v1/tasks/{task_id}/stream") as v1,
                    client.stream("POST", "/v1/completions", json=chat) as facade,
                ):
                    streams = [v1.aiter_bytes(), facade.aiter_bytes()]
                    assert [await anext(chunks) for chunks in streams]
                    process.send_signal(signal.SIGTERM)
                    signalled = time.monotonic()
                    await asyncio.wait_for(asyncio.gather(*(until_cut(chunks) for chunks in streams)), 10)
                    assert time.monotonic() - signalled < 1.5
            assert await asyncio.wait_for(process.wait(), 15) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
