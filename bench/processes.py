"""The benchmark's child processes: started in their own process group, pinned to a core when `taskset`
exists, stopped (and their group killed) however the run ends, and read from /proc while they run."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def taskset_path() -> str | None:
    """`taskset`, when the machine has it and more than one core to spread over."""
    path = shutil.which("taskset")
    return path if path is not None and (os.cpu_count() or 1) > 1 else None


@dataclass(frozen=True, slots=True)
class ProcSample:
    """CPU time and memory of a process at one moment."""

    cpu_s: float
    rss_bytes: int


def sample(pid: int) -> ProcSample:
    """utime + stime (seconds) and resident set size of `pid`, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return ProcSample(cpu_s, rss_pages * PAGE_BYTES)


class Child:
    """One child process; `stop()` is safe to call more than once."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        core: int | str | None,
        log_path: Path,
        stdin: int | None = None,
        stdout: int | IO[bytes] | None = None,
    ) -> None:
        self.name = name
        taskset = taskset_path()
        pinned = [taskset, "-c", str(core)] if taskset is not None and core is not None else []
        self.core = core if pinned else None
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [*pinned, *argv],
            stdin=stdin,
            stdout=stdout if stdout is not None else self._log,
            stderr=self._log,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def sample(self) -> ProcSample:
        return sample(self.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL after `grace_s`."""
        if self.process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait(grace_s)
        _signal_group(self.pid, signal.SIGKILL)  # anything the child left in its group
        self._log.close()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def python_argv(*module_args: str) -> list[str]:
    return [sys.executable, *module_args]


def wait_http(url: str, child: Child, timeout_s: float = 30.0, expect: int = 200) -> None:
    """Polls `url` until it answers `expect`; RuntimeError when the child dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.process.returncode} before {url} answered")
        try:
            status = httpx.get(url, timeout=1.0).status_code
            if status == expect:
                return
            last = f"status {status}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer {expect} within {timeout_s:g} s ({last})")
