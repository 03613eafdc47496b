"""Port allocation from a pool's port range, skipping ports that are taken."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterable

from orchestrator_core.errors import InvalidParams, PoolUnavailable


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on (host, port) and it can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


class PortAllocator:
    """Hands out free ports from [first, last], never one it already handed out and has not got back."""

    def __init__(self, first: int, last: int, host: str = "127.0.0.1") -> None:
        if not 0 < first <= last <= 65535:
            raise InvalidParams(f"port_range [{first}, {last}] is not a valid range")
        self.first = first
        self.last = last
        self.host = host
        self._taken: set[int] = set()

    def allocate(self) -> int:
        """A free port; raises PoolUnavailable when the range is exhausted."""
        for port in self._candidates():
            if port not in self._taken and port_is_free(self.host, port):
                self._taken.add(port)
                return port
        raise PoolUnavailable(
            f"no free port in port_range [{self.first}, {self.last}] ({len(self._taken)} held by replicas)"
        )

    def release(self, port: int) -> None:
        with contextlib.suppress(KeyError):
            self._taken.remove(port)

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._taken)

    def _candidates(self) -> Iterable[int]:
        return range(self.first, self.last + 1)
