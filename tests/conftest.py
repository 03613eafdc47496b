"""Suite-wide hooks: the session's start time, and the budget test placed last so it sees the whole run."""

from __future__ import annotations

import time

import pytest

SUITE_BUDGET_MODULE = "tests/tooling/test_suite_budget.py"
session_started_at = pytest.StashKey[float]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[session_started_at] = time.time()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.nodeid.startswith(SUITE_BUDGET_MODULE)]
    items[:] = [item for item in items if item not in last] + last
