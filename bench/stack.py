"""The processes of one benchmark phase: a mock engine, orchestratord in front of it, and the load generator.

Core split on a 2-core machine (when `taskset` exists): orchestratord alone on core 1, the mock engine and
the load generator together on core 0. Every arm then has the same engine and client cost on core 0, and
the direct arm's figures are the ceiling the orchestrated arms are compared with.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench.processes import Child, free_port, python_argv, wait_http

HOST = "127.0.0.1"
MODEL_REF = "pkg:bench-mock-model"
ORCHESTRATORD_CORE = 1
ENGINE_CORE = 0
LOADGEN_CORE = 0
EVERY_CORE = "0,1"  # the workers of `--workers 2`: what a second core gives


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the mock engine behaves."""

    wire: str = "llamacpp"
    slots: int = 256
    ttft_ms: float = 0.0
    token_delay_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """What differs between orchestratord's configurations in the benchmark."""

    replica_slots: int = 256
    queue_capacity: int = 1024
    redis_url: str | None = None  # the shared mode (ORCH-4106), under a key prefix of the stack's own
    workers: int = 1  # `--workers`; several are pinned to every core


def daemon_config(
    port: int, engine_port: int, engine: EngineSettings, daemon: DaemonSettings
) -> dict[str, Any]:
    """orchestratord's configuration: loopback, no keys, one static replica on the mock engine."""
    shared = {} if daemon.redis_url is None else {"state": {"backend": "redis", "url": daemon.redis_url}}
    return {
        **shared,
        "bind": {"host": HOST, "port": port},
        "queues": {"defaults": {"capacity": daemon.queue_capacity, "policy": "reject"}},
        "replicas": [
            {
                "id": "bench-r0",
                "pool_id": "bench",
                "engine": engine.wire,
                "base_url": f"http://{HOST}:{engine_port}",
                "model_ref": MODEL_REF,
                "slots": daemon.replica_slots,
                "ctx_max": 8192,
            }
        ],
    }


class LoadGenerator:
    """The load generator child, driven by JSON lines over its stdin/stdout."""

    def __init__(self, log_dir: Path) -> None:
        self.child = Child(
            "loadgen",
            python_argv("-m", "bench.loadgen"),
            core=LOADGEN_CORE,
            log_path=log_dir / "loadgen.log",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        hello = self._read()
        if not hello.get("ready"):
            raise RuntimeError(f"load generator did not start: {hello}")

    def _read(self) -> dict[str, Any]:
        stdout = self.child.process.stdout
        if stdout is None:
            raise RuntimeError("load generator has no stdout")
        line = stdout.readline()
        if not line:
            raise RuntimeError("load generator exited; see loadgen.log")
        answer: dict[str, Any] = orjson.loads(line)
        return answer

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin = self.child.process.stdin
        if stdin is None:
            raise RuntimeError("load generator has no stdin")
        stdin.write(orjson.dumps(command) + b"\n")
        stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"load generator: {answer['error']}")
        return answer

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, RuntimeError):
            self.call_quit()
        self.child.stop()

    def call_quit(self) -> None:
        stdin = self.child.process.stdin
        if stdin is not None and not stdin.closed:
            stdin.write(b'{"op": "quit"}\n')
            stdin.flush()
            stdin.close()


class Stack:
    """A running engine and orchestratord, with their addresses; orchestratord can be restarted."""

    def __init__(
        self,
        engine: Child,
        engine_port: int,
        daemon_port: int,
        config_path: Path,
        name: str,
        workers: int = 1,
    ) -> None:
        self.workers = workers
        self.engine = engine
        self.engine_port = engine_port
        self.daemon_port = daemon_port
        self._config_path = config_path
        self._name = name
        self.restarts = 0
        self.daemon = self._start_daemon()

    def _start_daemon(self) -> Child:
        log_name = f"{self._name}-orchestratord{'' if not self.restarts else f'-{self.restarts}'}.log"
        workers = ["--workers", str(self.workers)] if self.workers > 1 else []
        daemon = Child(
            f"{self._name}-orchestratord",
            python_argv("-m", "orchestratord", "--config", str(self._config_path), *workers),
            core=ORCHESTRATORD_CORE if self.workers == 1 else EVERY_CORE,
            log_path=self._config_path.parent / log_name,
        )
        self.daemon = daemon
        wait_http(f"http://{HOST}:{self.daemon_port}/readyz", daemon)
        return daemon

    def restart_daemon(self) -> None:
        """A fresh orchestratord on the same port and configuration."""
        self.daemon.stop()
        self.restarts += 1
        self._start_daemon()


@contextlib.contextmanager
def running_stack(
    log_dir: Path, name: str, engine: EngineSettings, daemon: DaemonSettings
) -> Iterator[Stack]:
    """Starts the mock engine and orchestratord (pinned), waits until orchestratord is ready, stops both."""
    engine_port, daemon_port = free_port(), free_port()
    config_path = log_dir / f"{name}-orchestratord.yaml"
    config = daemon_config(daemon_port, engine_port, engine, daemon)
    if "state" in config:
        config["state"]["key_prefix"] = f"bench-{name}"
    config_path.write_text(yaml.safe_dump(config))
    children: list[Child] = []
    stack: Stack | None = None
    try:
        mock = Child(
            f"{name}-engine",
            python_argv(
                "-m",
                "mock_engine",
                "--wire",
                engine.wire,
                "--port",
                str(engine_port),
                "--slots",
                str(engine.slots),
                "--ctx",
                "8192",
                "--model-id",
                MODEL_REF,
                "--ttft-ms",
                str(engine.ttft_ms),
                "--token-delay-ms",
                str(engine.token_delay_ms),
            ),
            core=ENGINE_CORE,
            log_path=log_dir / f"{name}-engine.log",
        )
        children.append(mock)
        health = "/health" if engine.wire == "llamacpp" else "/v1/models"
        wait_http(f"http://{HOST}:{engine_port}{health}", mock)
        stack = Stack(mock, engine_port, daemon_port, config_path, name, daemon.workers)
        yield stack
    finally:
        if stack is not None:
            stack.daemon.stop()
        for child in reversed(children):
            child.stop()
