"""Percentiles of the samples the load generator collects, and the gap distribution that holds them.

Inter-token gaps are mostly zero when tokens arrive in batches (many tokens in one read), so a gap sample
set keeps the zeros as a count and only the positive gaps as values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class GapSamples:
    """Inter-token gaps in microseconds: how many were zero, and the positive ones."""

    zeros: int = 0
    positive: list[float] = field(default_factory=list)

    def add(self, gap_us: float, tokens_in_read: int) -> None:
        """A read carrying `tokens_in_read` tokens, the first `gap_us` after the previous token."""
        self.positive.append(gap_us)
        self.zeros += tokens_in_read - 1

    def merge(self, other: GapSamples) -> None:
        self.zeros += other.zeros
        self.positive.extend(other.positive)

    @property
    def count(self) -> int:
        return self.zeros + len(self.positive)

    def percentile(self, fraction: float) -> float | None:
        """Nearest-rank percentile over zeros and positive gaps together."""
        total = self.count
        if total == 0:
            return None
        rank = max(1, math.ceil(fraction * total))
        if rank <= self.zeros:
            return 0.0
        return sorted(self.positive)[rank - self.zeros - 1]

    def to_json(self) -> dict[str, object]:
        return {"zeros": self.zeros, "positive": [round(g, 1) for g in self.positive]}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> GapSamples:
        zeros = data.get("zeros", 0)
        positive = data.get("positive", [])
        if not isinstance(zeros, int) or not isinstance(positive, list):
            raise ValueError("gap samples need an integer 'zeros' and a list 'positive'")
        return cls(zeros, [float(g) for g in positive])


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
