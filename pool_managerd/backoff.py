"""Capped exponential backoff: replica restarts (ORCH-6007) and registration retries (ORCH-6013)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrator_core.errors import InvalidParams


@dataclass
class Backoff:
    """Delays initial, 2x, 4x, ... capped at `max_ms`; `reset()` after a replica proved healthy.

    With `full_jitter` each delay is drawn uniformly from [0, that bound], so many nodes retrying the same
    orchestratord do not retry in step.
    """

    initial_ms: int
    max_ms: int
    full_jitter: bool = False
    uniform: Callable[[], float] = field(default=random.random, repr=False)
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
        bound = min(self.max_ms, self.initial_ms * (1 << min(self.attempt, 30)))
        self.attempt += 1
        return round(bound * self.uniform()) if self.full_jitter else bound

    def reset(self) -> None:
        self.attempt = 0
