"""Runs `llorch` as a child process in its own session, for tests that signal it (Ctrl-C) or need its
children; the whole process group is killed if the test ends while it still runs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, AnyStr

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def llorch_process(*argv: str, text: bool = False) -> Iterator[subprocess.Popen[Any]]:
    """`python -m cli ARGV` with piped stdout and stderr, run from the repository root."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=text,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def interrupt(process: subprocess.Popen[AnyStr], timeout_s: float) -> AnyStr:
    """Sends Ctrl-C to the process group and returns stderr once the process has ended."""
    os.killpg(process.pid, signal.SIGINT)
    return process.communicate(timeout=timeout_s)[1]
