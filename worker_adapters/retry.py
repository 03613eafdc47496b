"""Full-jitter retries for failures that happen before the first token (ORCH-7005).

A stream is retried only while nothing has been delivered: once a token reached the caller the
failure is final, because a replay could duplicate or change text the client already saw.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Sleep = Callable[[float], Awaitable[None]]
Uniform = Callable[[float, float], float]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` counts the first try; delays are uniform(0, min(cap_s, base_s * 2**n))."""

    attempts: int = 3
    base_s: float = 0.1
    cap_s: float = 2.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    uniform: Uniform = field(default=random.uniform, compare=False)

    def delay(self, retry_number: int) -> float:
        """The full-jitter delay before retry number `retry_number` (0 for the first retry)."""
        return self.uniform(0.0, min(self.cap_s, self.base_s * 2**retry_number))

    async def pause(self, retry_number: int) -> None:
        """Sleep the jittered delay before retry number `retry_number`."""
        await self.sleep(self.delay(retry_number))
