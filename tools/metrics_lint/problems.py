"""One finding of the lint: where it was found and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """A single lint failure; `source` names the scrape, file or spec line it comes from."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"
