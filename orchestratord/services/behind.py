"""Work asked for by synchronous code (a grace timer, a run's end, a terminal hook) and run a moment later."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from orchestrator_core.errors import StateUnavailable

logger = logging.getLogger(__name__)
RETRY_S = 0.5
# How long a write that must not be lost is retried through an outage of the shared state (ORCH-4111).
OUTAGE_WRITE_S = 120.0


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

    def submit_retrying(self, write: Callable[[], Coroutine[Any, Any, Any]], *, for_s: float) -> None:
        """Submits `write()`, made again while the shared state does not answer (`retried`)."""
        self.submit(retried(write, for_s=for_s))

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait for every write submitted so far; after `timeout_s` those still pending are canceled."""
        if not self._pending:
            return
        _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)


async def retried(write: Callable[[], Coroutine[Any, Any, Any]], *, for_s: float) -> bool:
    """Makes `write()` again every half second while the shared state does not answer, for at most
    `for_s` (a write that must outlast a short outage: a task's end, a quota's release); True once made."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + for_s
    while True:
        try:
            await write()
            return True
        except StateUnavailable as error:
            if loop.time() + RETRY_S > give_up_at:
                logger.warning("a write was given up after %.0f s: %s", for_s, error.message)
                return False
        await asyncio.sleep(RETRY_S)
