"""One live load run shared by the observability tests: orchestratord and pool_managerd (mock engines) on
127.0.0.1, a bounded load, and the scrapes it produced under `artifacts/metrics_lint/` (git-ignored)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.metrics_lint.load import LoadReport, run_load
from tools.metrics_lint.spec import MetricsSpec, parse_metrics_spec
from tools.metrics_lint.stack import StackOptions, local_stack

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / ".specs/metrics/otel-prom.md"
ARTIFACTS = REPO / "artifacts/metrics_lint"
ORCHD_MODULE = "orchd_dev"


@dataclass(frozen=True)
class LoadRun:
    """The scrapes of one load run and what the load did."""

    scrapes: Path
    report: LoadReport

    def scrape(self, daemon: str, index: int) -> str:
        files = sorted(self.scrapes.glob(f"{daemon}-*.prom"))
        return files[index].read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def metrics_spec() -> MetricsSpec:
    return parse_metrics_spec(SPEC_PATH)


@pytest.fixture(scope="session")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadRun]:
    scrapes = ARTIFACTS / "scrapes"
    shutil.rmtree(scrapes, ignore_errors=True)
    workdir = tmp_path_factory.mktemp("stack")
    with local_stack(workdir, StackOptions(queue_capacity=8, orchd_module=ORCHD_MODULE)) as stack:
        report = asyncio.run(run_load(stack, scrapes))
    yield LoadRun(scrapes, report)
