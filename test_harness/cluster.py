"""Several orchestratord processes sharing one Redis, in front of mock engines: the shared mode as an
operator runs it (ORCH-4106), for the multi-instance and fault tests.

Every instance is a real `python -m orchestratord` with the same configuration file apart from its port
and instance id; the engines are real `python -m mock_engine` processes (llama.cpp wire) served to every
instance as static replicas. Everything binds 127.0.0.1, runs in its own process group and is stopped by
pid on exit, also when the test failed or killed one of them.

    with cluster(redis_url, instances=2) as running:
        httpx.post(f"{running.urls[0]}/v1/tasks", json=...)
"""

from __future__ import annotations

import contextlib
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from test_harness.chaos.stack import spawn_logged
from test_harness.llama_server import free_port
from test_harness.stack import stop_process

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
MODEL = "mock-model"


@dataclass
class Process:
    """One process of the cluster: its command, its log, and the running process once started."""

    name: str
    argv: list[str]
    log_path: Path
    url: str
    process: subprocess.Popen[bytes] | None = None
    stopped_log: str = ""  # the log of the run `Cluster.restart` stopped last (the log goes on appending)

    def start(self) -> None:
        self.process = spawn_logged(self.argv, self.log_path)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would end it; its process group goes with it."""
        if self.process is not None and self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_GRACE_S)

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM and wait (SIGKILL after `grace_s`, with all it started); the exit status."""
        if self.process is None:
            return None
        stop_process(self.process, grace_s)
        return self.process.returncode


@dataclass
class Cluster:
    """The running instances and engines; the instances' URLs in order."""

    work_dir: Path
    instances: list[Process]
    engines: list[Process]
    config: dict[str, Any]
    proxies: list[Process] = field(default_factory=list)  # instance i's link to Redis, when proxied

    @property
    def urls(self) -> list[str]:
        return [instance.url for instance in self.instances]

    def http(self, index: int, timeout_s: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.urls[index], timeout=timeout_s, trust_env=False)

    def log(self, index: int) -> str:
        return self.instances[index].log_path.read_text(errors="replace")

    def restart(self, index: int, stop_grace_s: float = STOP_GRACE_S) -> tuple[int | None, float]:
        """SIGTERM instance `index`, wait for it to exit (SIGKILL after `stop_grace_s`), start it again and
        wait until it is ready, as a rolling restart does; answers its exit status and how many seconds it
        took to stop."""
        instance = self.instances[index]
        began = time.monotonic()
        status = instance.stop(stop_grace_s)
        stopped_after = time.monotonic() - began
        instance.stopped_log = instance.log_path.read_text(errors="replace")
        instance.start()
        _wait_ready(f"{instance.url}/readyz", instance, START_TIMEOUT_S)
        return status, stopped_after


def _wait_ready(url: str, process: Process, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(
                f"{process.name} exited: {process.log_path.read_text(errors='replace')[-2000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} not ready within {timeout_s:.0f} s")


def _wait_port(port: int, process: Process, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited: {process.log_path.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{process.name} did not listen within {timeout_s:.0f} s")


def _proxy(work_dir: Path, index: int, redis_url: str) -> tuple[Process, str]:
    """A relay from a free port to the Redis of `redis_url`, and the URL that reaches Redis through it."""
    target = urlsplit(redis_url)
    port = free_port()
    argv = [sys.executable, "-m", "test_harness.tcp_proxy", "--port", str(port), "--to", target.netloc]
    url = urlunsplit(target._replace(netloc=f"127.0.0.1:{port}"))
    return Process(f"proxy-{index}", argv, work_dir / f"proxy-{index}.log", f"tcp://127.0.0.1:{port}"), url


def _engine(
    work_dir: Path, index: int, slots: int, token_delay_ms: int, model: str = MODEL, name: str = "engine"
) -> Process:
    port = free_port()
    argv = [
        sys.executable, "-m", "mock_engine", "--wire", "llamacpp", "--host", "127.0.0.1",
        "--port", str(port), "--slots", str(slots), "--model-id", model,
        "--token-delay-ms", str(token_delay_ms), "--log-level", "warning",
    ]  # fmt: skip
    return Process(f"{name}-{index}", argv, work_dir / f"{name}-{index}.log", f"http://127.0.0.1:{port}")


@contextmanager
def mock_engine(
    work_dir: Path, *, slots: int = 2, token_delay_ms: int = 5, model: str = MODEL, name: str = "engine"
) -> Iterator[Process]:
    """One more mock engine (llama.cpp wire) serving `model`, healthy when yielded; stopped on exit."""
    engine = _engine(work_dir, 0, slots, token_delay_ms, model, name)
    engine.start()
    try:
        _wait_ready(f"{engine.url}/health", engine, START_TIMEOUT_S)
        yield engine
    finally:
        engine.stop()


def cluster_config(redis_url: str, engines: list[Process], slots: int, **overrides: Any) -> dict[str, Any]:
    """What every instance runs (apart from the port and the instance id)."""
    config: dict[str, Any] = {
        "shutdown_grace_ms": 1_000,
        "streaming": {"disconnect_grace_ms": 2_000, "heartbeat_ms": 1_000},
        "state": {
            "backend": "redis",
            "url": redis_url,
            "key_prefix": f"cluster{secrets.token_hex(4)}",
            "lease_ttl_ms": 1_500,
        },
        "replicas": [
            {
                "id": f"r{index}",
                "pool_id": "pool-a",
                "engine": "llamacpp",
                "base_url": engine.url,
                "model_ref": MODEL,
                "slots": slots,
            }
            for index, engine in enumerate(engines)
        ],
    }
    for key, value in overrides.items():
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
    return config


@contextmanager
def cluster(
    redis_url: str,
    *,
    instances: int = 2,
    engines: int = 1,
    slots: int = 2,
    token_delay_ms: int = 20,
    proxied: bool = False,
    **overrides: Any,
) -> Iterator[Cluster]:
    """`instances` orchestratord processes sharing `redis_url`, each ready; stopped on exit. `proxied`:
    each instance reaches Redis through a relay of its own (`Cluster.proxies`), which a test may stop."""
    work_dir = Path(tempfile.mkdtemp(prefix="orchqueue-cluster-"))
    running_engines = [_engine(work_dir, i, slots, token_delay_ms) for i in range(engines)]
    config = cluster_config(redis_url, running_engines, slots, **overrides)
    running: list[Process] = []
    proxies: list[Process] = []
    for index in range(instances):
        port = free_port()
        url = redis_url
        if proxied:
            proxy, url = _proxy(work_dir, index, redis_url)
            proxies.append(proxy)
        instance_config = {
            **config,
            "bind": {"host": "127.0.0.1", "port": port},
            "state": {**config["state"], "instance_id": f"instance-{index}", "url": url},
        }
        path = work_dir / f"orchestratord-{index}.json"
        path.write_bytes(orjson.dumps(instance_config))
        # faulthandler: a stop that hangs is ended with SIGABRT first, which prints every thread's stack.
        argv = [sys.executable, "-X", "faulthandler", "-m", "orchestratord", "--config", str(path)]
        log = work_dir / f"orchestratord-{index}.log"
        running.append(Process(f"orchestratord-{index}", argv, log, f"http://127.0.0.1:{port}"))
    state = Cluster(work_dir, running, running_engines, config, proxies)
    try:
        for proxy in proxies:
            proxy.start()
            _wait_port(int(proxy.url.rpartition(":")[2]), proxy, START_TIMEOUT_S)
        for engine in running_engines:
            engine.start()
        for engine in running_engines:
            _wait_ready(f"{engine.url}/health", engine, START_TIMEOUT_S)
        for instance in running:
            instance.start()
        for instance in running:
            _wait_ready(f"{instance.url}/readyz", instance, START_TIMEOUT_S)
        yield state
    except BaseException:
        _stop(state)
        raise  # the work directory and its logs stay for the failure's diagnosis
    _stop(state)
    shutil.rmtree(work_dir, ignore_errors=True)


def _stop(state: Cluster) -> None:
    for proxy in state.proxies:  # a stopped (SIGSTOP) relay must run again to hear SIGTERM
        if proxy.process is not None and proxy.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proxy.process.pid, signal.SIGCONT)
    for process in [*state.instances, *state.engines, *state.proxies]:
        process.stop()
