"""`python -m pool_managerd`: SIGTERM or SIGINT stops every engine process; a bad config exits with 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from tests.pool_managerd.pm_support import REPO, SMOLLM2, free_port_range, group_members, pid_alive

TOKEN = "node-token-for-tests-0123"


def write_config(tmp_path: Path, **pool: object) -> tuple[Path, int]:
    api_port = free_port_range(1)[0]
    engine_ports = free_port_range(6)
    config = {
        "host_id": "host-sig",
        "bind": {"host": "127.0.0.1", "port": api_port},
        "node_token": TOKEN,
        "orchestratord_url": f"http://127.0.0.1:{free_port_range(1)[0] + 1}",
        "log_dir": str(tmp_path / "logs"),
        "model_cache_dir": str(REPO / ".cache" / "models"),
        "stop_grace_ms": 5000,
        "pools": [
            {
                "id": "p1",
                "engine": "llamacpp",
                "model_ref": SMOLLM2,
                "replicas": 2,
                "devices": "cpu",
                "port_range": list(engine_ports),
                **pool,
            }
        ],
    }
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, api_port


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def wait_ready(api_port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "pool_managerd exited early"
        try:
            response = httpx.get(
                f"http://127.0.0.1:{api_port}/v1/pools", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            pools = response.json()["pools"]
            if pools[0]["ready"] and all(r["ready"] for r in pools[0]["replicas"]):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("pool_managerd did not get ready")


@pytest.mark.real_engine
@pytest.mark.req("ORCH-6009", "ORCH-6005", "ORCH-8003")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_every_engine_and_leaves_no_process_behind(
    tmp_path: Path, signum: signal.Signals
) -> None:
    config, api_port = write_config(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "pool_managerd", "--config", str(config)],
        cwd=REPO,
        stdout=(tmp_path / "pool_managerd.log").open("wb"),
        stderr=(tmp_path / "pool_managerd.err").open("wb"),
    )
    engines: list[int] = []
    try:
        wait_ready(api_port, process)
        engines = children_of(process.pid)
        assert len(engines) == 2
        assert all(os.getpgid(pid) == pid for pid in engines)
        process.send_signal(signum)
        assert process.wait(timeout=30) == 0
        assert [pid for pid in engines if pid_alive(pid)] == []
        assert group_members(engines) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in engines:
            if pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
    # The log is JSON lines on stdout (ORCH-8003), whatever the engines print.
    lines = [orjson.loads(line) for line in (tmp_path / "pool_managerd.log").read_text().splitlines()]
    assert all({"ts", "level", "event", "msg"} <= line.keys() for line in lines)
    messages = [line["msg"] for line in lines]
    assert "all engine processes stopped" in messages
    assert any("CPU-only host (nvidia-smi not found)" in message for message in messages)


@pytest.mark.req("ORCH-6001", "ORCH-6002")
@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ({"replicaz": 2}, "replicaz: unknown key"),
        ({"model_ref": "hf:org/model"}, "scheme 'hf' is not supported"),
        ({"model_ref": "/no/such/model.gguf"}, "no such file '/no/such/model.gguf'"),
        ({"devices": [0]}, "GPU 0 is not present on this host"),
    ],
)
def test_bad_config_exits_with_status_2_naming_the_problem(
    tmp_path: Path, pool: dict[str, object], message: str
) -> None:
    config, _ = write_config(tmp_path, **pool)
    done = subprocess.run(
        [sys.executable, "-m", "pool_managerd", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
