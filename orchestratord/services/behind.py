"""Work asked for by synchronous code (a grace timer, a run's end, a terminal hook) and run a moment later."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class WriteBehind:
    """Runs each submitted write as a task on the running loop and keeps it until it is done (the loop
    holds only a weak reference to a task)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: set[asyncio.Task[Any]] = set()

    def submit(self, write: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(write)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for every write submitted so far."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
