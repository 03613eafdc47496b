"""Child processes of `llorch up`: each in its own process group with its output in a log file, stopped
with SIGTERM to the group and SIGKILL after a grace period, so nothing outlives the stack."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from pool_managerd.process import die_with_parent


class Child:
    """One started process group."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, stop_grace_s: float) -> None:
        self.name = name
        self.log_path = log_path
        self.stop_grace_s = stop_grace_s
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self._process.pid

    def exited(self) -> int | None:
        """The exit status once the process ended, else None."""
        return self._process.poll()

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL to whatever is left after the grace period; reaps the child."""
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None and not self._group_alive():
                return
            time.sleep(0.05)
        self._signal(signal.SIGKILL)
        self._process.wait(5)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _group_alive(self) -> bool:
        try:
            os.killpg(self._process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            pass
