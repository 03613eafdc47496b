"""A real redis-server for the shared-state tests and benchmarks: one process on a free (or given) 127.0.0.1
port, no persistence, stopped at the end. `make setup` installs the server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SERVER_NAMES = ("redis-server", "valkey-server")


def server_binary() -> str:
    for name in SERVER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("no redis-server or valkey-server on PATH: run `make setup`")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RedisServer:
    """A running server: its URL, its process, and its data directory."""

    url: str
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def redis_server(workdir: Path, port: int | None = None) -> Iterator[RedisServer]:
    """Starts redis-server bound to 127.0.0.1 (on `port`, else a free one) without persistence; yields
    once it answers PING."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    argv = [
        server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--protected-mode", "yes",
        "--loglevel", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (
                f"redis-server exited: {process.stderr.read() if process.stderr else ''!r}"
            )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not answer PING within 10 s"
            time.sleep(0.05)
        yield RedisServer(f"redis://127.0.0.1:{port}/0", port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
