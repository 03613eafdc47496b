"""Crash circuit breaker: K crashes within T milliseconds open it (ORCH-6008).

An open breaker keeps the pool unready with its last error until a reload or an explicit reset; the clock
is passed in so the rule can be proved without sleeping.
"""

from __future__ import annotations

from collections import deque

from orchestrator_core.errors import InvalidParams


class CrashBreaker:
    """Counts crashes in a sliding window; opens at the `max_crashes`-th crash inside `window_ms`."""

    def __init__(self, max_crashes: int, window_ms: int) -> None:
        if max_crashes < 1:
            raise InvalidParams(f"restart.breaker_crashes must be >= 1, got {max_crashes}")
        if window_ms <= 0:
            raise InvalidParams(f"restart.breaker_window_ms must be > 0, got {window_ms}")
        self.max_crashes = max_crashes
        self.window_ms = window_ms
        self._crashes_ms: deque[float] = deque()
        self.open = False
        self.last_error: str | None = None

    def record_crash(self, now_ms: float, error: str) -> bool:
        """Count a crash at `now_ms`; returns True when this crash opened the breaker."""
        self.last_error = error
        self._crashes_ms.append(now_ms)
        while self._crashes_ms and now_ms - self._crashes_ms[0] > self.window_ms:
            self._crashes_ms.popleft()
        if not self.open and len(self._crashes_ms) >= self.max_crashes:
            self.open = True
            return True
        return False

    @property
    def recent_crashes(self) -> int:
        return len(self._crashes_ms)

    def reset(self) -> None:
        self._crashes_ms.clear()
        self.open = False
        self.last_error = None
