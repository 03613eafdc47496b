"""`python -m orchestratord --workers N`: N orchestratord processes on one port, one per core (ORCH-4114).

Each worker is a whole orchestratord (`python -m orchestratord --worker-index I`, the same configuration)
that binds the port itself with SO_REUSEPORT, so the kernel spreads new connections over the workers and
no process relays another's bytes. They share their state through Redis like instances on different hosts,
so the shared mode is required. This supervisor only starts the workers, restarts one that dies (after a
pause that grows while it keeps dying) and, on SIGTERM or SIGINT, stops them all and waits for them.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from pool_managerd.process import die_with_parent

logger = logging.getLogger("orchestratord.workers")

RESTART_PAUSE_S = (0.5, 1.0, 2.0, 5.0)
STOP_WAIT_S = 30.0
CONFIG_ERROR = 2  # a worker that refuses its configuration is not restarted


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) that the other workers may bind as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    """Runs `workers` copies of `argv` (each with `--worker-index I` appended) until told to stop."""

    def __init__(self, argv: Sequence[str], workers: int) -> None:
        self._argv = list(argv)
        self._count = workers
        self._stopping = threading.Event()
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._failures: dict[int, int] = {}

    def _start(self, index: int) -> None:
        command = [sys.executable, "-m", "orchestratord", *self._argv, "--worker-index", str(index)]
        # Its own process group: a stop signalled to the supervisor's group reaches each worker once, from
        # here (a second SIGTERM would cut uvicorn's graceful shutdown); it dies with the supervisor.
        self._processes[index] = subprocess.Popen(command, start_new_session=True, preexec_fn=die_with_parent)
        logger.info("worker %d started (pid %d)", index, self._processes[index].pid)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping.set()

    def run(self) -> int:
        """Supervises until SIGTERM/SIGINT; the exit status (0 when every worker stopped cleanly)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        for index in range(self._count):
            self._start(index)
        status = 0
        while not self._stopping.wait(0.2):
            for index, process in list(self._processes.items()):
                code = process.poll()
                if code is None:
                    continue
                if code == CONFIG_ERROR:
                    logger.error("worker %d refused its configuration; stopping", index)
                    self._stopping.set()
                    status = CONFIG_ERROR
                    break
                failures = self._failures[index] = self._failures.get(index, 0) + 1
                pause = RESTART_PAUSE_S[min(failures, len(RESTART_PAUSE_S)) - 1]
                logger.warning("worker %d exited with %s; restarting in %.1f s", index, code, pause)
                if self._stopping.wait(pause):
                    break
                self._start(index)
        return self._stop_all() or status

    def _stop_all(self) -> int:
        for process in self._processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        status = 0
        for process in self._processes.values():
            try:
                code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            status = status or (0 if code in (0, CONFIG_ERROR) else 1)
        return status
