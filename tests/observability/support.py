"""Paths and the load-run record shared by the observability tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.metrics_lint.load import LoadReport

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / ".specs/metrics/otel-prom.md"
ARTIFACTS = REPO / "artifacts/metrics_lint"


@dataclass(frozen=True)
class LoadRun:
    """The scrapes of one load run and what the load did."""

    scrapes: Path
    report: LoadReport

    def scrape(self, daemon: str, index: int) -> str:
        files = sorted(self.scrapes.glob(f"{daemon}-*.prom"))
        return files[index].read_text(encoding="utf-8")
