"""One engine child process in its own process group, logging to its own file (ORCH-6005, ORCH-6009).

The engine runs as a session leader (start_new_session), so terminating its process group also reaches
anything the engine spawned. Stopping sends SIGTERM to the group, waits a grace period, then SIGKILLs it.
On Linux the child also asks the kernel to kill it if pool_managerd dies without cleaning up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from orchestrator_core.errors import PoolUnavailable

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this child when its parent dies, so no engine outlives its supervisor."""
    # Runs in the child between fork and exec; best effort, Linux only.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class EngineProcess:
    """A started engine child; `pid` is also its process group id."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path, log_file: IO[bytes]) -> None:
        self._process = process
        self._log_file = log_file
        self.log_path = log_path
        self.pid = process.pid
        self.started_at = time.monotonic()

    @classmethod
    async def start(cls, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> EngineProcess:
        """Start `argv` with `env`; raises PoolUnavailable when the executable cannot be started."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        log_file.write(f"--- start {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
        log_file.flush()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        except OSError as exc:
            log_file.close()
            raise PoolUnavailable(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from exc
        return cls(process, log_path, log_file)

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait(self) -> int:
        """Wait for the engine to exit and return its exit status (negative: killed by that signal)."""
        code = await self._process.wait()
        self._log_file.close()
        return code

    async def stop(self, grace_s: float) -> int:
        """SIGTERM the process group, SIGKILL it after `grace_s`; returns the exit status."""
        if self._process.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._process.wait()), timeout=grace_s)
            except TimeoutError:
                pass
        # Whatever the engine spawned goes with it, even when the leader already exited.
        self._signal_group(signal.SIGKILL)
        return await self.wait()

    def kill_now(self) -> None:
        """SIGKILL the group at once (used when the event loop is going away)."""
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)
