"""A level-triggered wake-up from producers (admission, slot release, replicas) to the dispatcher."""

from __future__ import annotations

import asyncio


class Wakeup:
    """`notify()` from anywhere on the loop; `wait()` returns once something happened since the last wait."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float | None = None) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
        except TimeoutError:
            pass
        self._event.clear()
