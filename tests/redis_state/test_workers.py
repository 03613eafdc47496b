"""`python -m orchestratord --workers N` with real processes (ORCH-4114): N workers answer on one port,
share their tasks through Redis, a worker that dies is replaced, SIGTERM stops them all, and without the
shared mode the flag is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from test_harness.chaos.stack import spawn_logged
from test_harness.cluster import MODEL, Process, cluster_config, mock_engine
from test_harness.llama_server import free_port
from test_harness.stack import descendants, stop_process
from tests.redis_state.test_cluster import wait_for
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Process]:
    with mock_engine(tmp_path, slots=4) as process:
        yield process


def instances_answering(url: str, tries: int = 60) -> set[str]:
    """The instance ids that answer /readyz over `tries` new connections."""
    seen: set[str] = set()
    for _ in range(tries):
        try:
            answer = httpx.get(f"{url}/readyz", trust_env=False, timeout=5)
        except httpx.ConnectError:  # no worker listens yet
            continue
        if answer.status_code == 200:
            seen.add(answer.json()["instance_id"])
    return seen


@pytest.mark.req("ORCH-4114")
def test_two_workers_share_one_port_and_a_dead_one_is_replaced(
    redis_process: RedisServer, engine: Process, tmp_path: Path
) -> None:
    port = free_port()
    config = cluster_config(redis_process.url, [engine], slots=4)
    config["bind"] = {"host": "127.0.0.1", "port": port}
    config["state"]["instance_id"] = "host"
    path = tmp_path / "orchestratord.json"
    path.write_bytes(orjson.dumps(config))
    argv = [sys.executable, "-m", "orchestratord", "--config", str(path), "--workers", "2"]
    supervisor = spawn_logged(argv, tmp_path / "orchestratord.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: len(instances_answering(url, tries=10)) == 2, timeout_s=30)
        before = instances_answering(url)
        assert {name.split("~")[0] for name in before} == {"host-w0", "host-w1"}, before
        with httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
            ids = [
                client.post("/v1/tasks", json={"model_ref": MODEL, "prompt": "w", "max_tokens": 5}).json()[
                    "task_id"
                ]
                for _ in range(8)
            ]
        for task_id in ids:  # each read on a new connection: any worker serves any task
            with httpx.stream("GET", f"{url}/v1/tasks/{task_id}/stream", trust_env=False, timeout=30) as r:
                assert b"event: end" in r.read()
        workers = descendants(supervisor.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        wait_for(lambda: len(instances_answering(url, tries=10) - before) == 1, timeout_s=30)
        assert len(descendants(supervisor.pid)) == 2
    finally:
        workers = descendants(supervisor.pid)
        supervisor.send_signal(signal.SIGTERM)
        code = supervisor.wait(timeout=40)
        stop_process(supervisor, 5)
    assert code == 0, (tmp_path / "orchestratord.log").read_text()[-2000:]
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists() and _running(pid)]


def _running(pid: int) -> bool:
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    return state != "Z"


@pytest.mark.req("ORCH-4114")
def test_workers_without_the_shared_mode_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "orchestratord.json"
    path.write_bytes(orjson.dumps({"bind": {"host": "127.0.0.1", "port": free_port()}}))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "orchestratord", "--config", str(path), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert "--workers 2 needs the shared mode (state.backend: redis)" in done.stderr
    assert time.monotonic() - started < 30
