"""Capped exponential restart backoff for crashed replicas (ORCH-6007)."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator_core.errors import InvalidParams


@dataclass
class Backoff:
    """Delays initial, 2x, 4x, ... capped at `max_ms`; `reset()` after a replica proved healthy."""

    initial_ms: int
    max_ms: int
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.initial_ms <= 0:
            raise InvalidParams(f"restart.backoff_initial_ms must be > 0, got {self.initial_ms}")
        if self.max_ms < self.initial_ms:
            raise InvalidParams(
                f"restart.backoff_max_ms ({self.max_ms}) must be >= backoff_initial_ms ({self.initial_ms})"
            )

    def next_delay_ms(self) -> int:
        """The delay before the next restart; each call doubles the following one up to the cap."""
        delay = min(self.max_ms, self.initial_ms * (1 << min(self.attempt, 30)))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
