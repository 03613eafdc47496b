"""A local OrchQueue stack for the lint: orchestratord and pool_managerd as real processes on 127.0.0.1.

pool_managerd supervises mock llama.cpp engines (`python -m mock_engine`) through a command
template and registers them with orchestratord, so both daemons serve their metrics the way they do in
production. Every process runs in its own process group and is stopped (SIGTERM, then SIGKILL) when the
context ends, engines included, also when the caller fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from contracts.config_schema.common import sha256_hex

NODE_TOKEN = "metrics-lint-node-token-0001"
TENANT_KEYS = {"acme": "acme-key-0001", "globex": "globex-key-0001"}
ADMIN_KEY = "admin-key-0001"
POOLS = {"pool-a": 2, "pool-b": 1}
START_TIMEOUT_S = 40.0


@dataclass(frozen=True)
class StackOptions:
    """Shape of the stack: queue capacity per pool and the mock engine's per-token delay."""

    queue_capacity: int = 10
    token_delay_ms: int = 15


@dataclass
class LocalStack:
    """Where the running daemons listen, the model each pool serves, and the keys to use."""

    orchd_url: str
    poolmgr_url: str
    models: dict[str, str]
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def headers(self, tenant: str) -> dict[str, str]:
        key = ADMIN_KEY if tenant == "admin" else TENANT_KEYS[tenant]
        return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_range(size: int) -> tuple[int, int]:
    """`size` consecutive ports free right now (engines bind them shortly after)."""
    for _ in range(200):
        first = free_port()
        if first + size > 65535:
            continue
        ports = range(first, first + size)
        with contextlib.ExitStack() as held:
            try:
                for port in ports:
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first, first + size - 1
    raise RuntimeError("no run of free ports on 127.0.0.1")


def _orchd_config(port: int, options: StackOptions) -> dict[str, object]:
    keys = [{"sha256": sha256_hex(k), "tenant": t, "role": "client"} for t, k in TENANT_KEYS.items()]
    keys.append({"sha256": sha256_hex(ADMIN_KEY), "tenant": "ops", "role": "admin"})
    return {
        "bind": {"host": "127.0.0.1", "port": port},
        "api_keys": keys,
        "node_tokens": [sha256_hex(NODE_TOKEN)],
        "queues": {"defaults": {"capacity": options.queue_capacity, "policy": "reject"}},
        "node_lease": {"heartbeat_interval_ms": 500},
        "shutdown_grace_ms": 500,
        "logging": {"level": "warning"},
    }


def _poolmgr_config(
    port: int, orchd_url: str, models: dict[str, str], workdir: Path, options: StackOptions
) -> dict[str, object]:
    template = [
        "{python}",
        "-m",
        "mock_engine",
        "--wire",
        "llamacpp",
        "--port",
        "{port}",
        "--slots",
        "{slots}",
        "--model-id",
        "{model}",
        "--token-delay-ms",
        str(options.token_delay_ms),
    ]
    pools = []
    for pool_id, replicas in POOLS.items():
        low, high = free_port_range(2 * replicas)
        pools.append(
            {
                "id": pool_id,
                "engine": "llamacpp",
                "model_ref": models[pool_id],
                "devices": "cpu",
                "replicas": replicas,
                "port_range": [low, high],
                "command_template": template,
                "start_timeout_ms": 30_000,
            }
        )
    return {
        "host_id": "lint-node",
        "bind": {"host": "127.0.0.1", "port": port},
        "orchestratord_url": orchd_url,
        "node_token": NODE_TOKEN,
        "heartbeat_interval_ms": 500,
        "registration_backoff": {"initial_ms": 100, "max_ms": 500},
        "log_dir": str(workdir / "logs"),
        "model_cache_dir": str(workdir / "models"),
        "stop_grace_ms": 2_000,
        "pools": pools,
        "logging": {"level": "warning"},
    }


def _spawn(module: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _engine_pgids(stack: LocalStack) -> set[int]:
    """Process groups of the engines pool_managerd runs, read from its pool health."""
    pgids: set[int] = set()
    headers = {"Authorization": f"Bearer {NODE_TOKEN}"}
    for pool_id in POOLS:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            health = httpx.get(f"{stack.poolmgr_url}/v1/pools/{pool_id}/health", headers=headers, timeout=2)
            for replica in health.json().get("replicas", []):
                if isinstance(replica.get("pid"), int):
                    with contextlib.suppress(ProcessLookupError):
                        pgids.add(os.getpgid(replica["pid"]))
    return pgids


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop(stack: LocalStack) -> None:
    engines = _engine_pgids(stack)
    # pool_managerd first: it deregisters and stops its engines; orchestratord then shuts down cleanly.
    for process in reversed(stack.processes):
        _kill_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    for pgid in engines:
        _kill_group(pgid, signal.SIGKILL)


def _wait_ready(stack: LocalStack, deadline: float) -> None:
    """Until every pool reports all its replicas ready through orchestratord."""
    last = "no answer"
    while time.monotonic() < deadline:
        for process in stack.processes:
            if process.poll() is not None:
                module = str(process.args[2]) if isinstance(process.args, list) else "daemon"
                log = (stack.workdir / f"{module}.log").read_text(errors="replace").splitlines()[-4:]
                raise RuntimeError(f"{module} exited with {process.returncode}: " + " | ".join(log))
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(f"{stack.orchd_url}/v1/pools", headers=stack.headers("admin"), timeout=2)
            last = answer.text
            if answer.status_code == 200:
                body = answer.json()
                pools = body.get("pools", body) if isinstance(body, dict) else body
                ready = {p["pool_id"]: p["replicas_ready"] for p in pools}
                if all(ready.get(pool_id) == n for pool_id, n in POOLS.items()):
                    return
        time.sleep(0.1)
    raise RuntimeError(f"the stack was not ready within {START_TIMEOUT_S} s; last /v1/pools: {last[:500]}")


@contextlib.contextmanager
def local_stack(workdir: Path, options: StackOptions | None = None) -> Iterator[LocalStack]:
    """Runs orchestratord and pool_managerd (with mock engines) until the block ends."""
    options = options or StackOptions()
    workdir.mkdir(parents=True, exist_ok=True)
    models = {}
    for pool_id in POOLS:
        model = workdir / f"{pool_id}.gguf"
        model.write_bytes(f"mock model of {pool_id}\n".encode())
        models[pool_id] = str(model)
    orchd_port, poolmgr_port = free_port(), free_port()
    stack = LocalStack(f"http://127.0.0.1:{orchd_port}", f"http://127.0.0.1:{poolmgr_port}", models, workdir)
    orchd_yaml = workdir / "orchestratord.yaml"
    orchd_yaml.write_text(yaml.safe_dump(_orchd_config(orchd_port, options)))
    poolmgr_yaml = workdir / "pool_managerd.yaml"
    poolmgr_yaml.write_text(
        yaml.safe_dump(_poolmgr_config(poolmgr_port, stack.orchd_url, models, workdir, options))
    )
    try:
        stack.processes.append(_spawn("orchestratord", orchd_yaml, workdir / "orchestratord.log"))
        stack.processes.append(_spawn("pool_managerd", poolmgr_yaml, workdir / "pool_managerd.log"))
        _wait_ready(stack, time.monotonic() + START_TIMEOUT_S)
        yield stack
    finally:
        _stop(stack)
