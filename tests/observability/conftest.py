"""One live load run shared by the observability tests: orchestratord and pool_managerd (mock engines) on
127.0.0.1, a bounded load, and the scrapes it produced under `artifacts/metrics_lint/` (git-ignored)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest

from tests.observability.support import ARTIFACTS, SPEC_PATH, LoadRun
from tools.metrics_lint.load import run_load
from tools.metrics_lint.spec import MetricsSpec, parse_metrics_spec
from tools.metrics_lint.stack import StackOptions, local_stack


@pytest.fixture(scope="session")
def metrics_spec() -> MetricsSpec:
    return parse_metrics_spec(SPEC_PATH)


@pytest.fixture(scope="session")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadRun]:
    scrapes = ARTIFACTS / "scrapes"
    shutil.rmtree(scrapes, ignore_errors=True)
    workdir = tmp_path_factory.mktemp("stack")
    with local_stack(workdir, StackOptions(queue_capacity=8)) as stack:
        report = asyncio.run(run_load(stack, scrapes))
    yield LoadRun(scrapes, report)
