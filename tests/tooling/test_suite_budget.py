"""`make test` stays within its 25-minute budget on 2 cores (ORCH-9018).

This module runs last (tests/conftest.py moves it there). Under `make test` the clock starts when set-up
(virtualenv, packages, the one-time engine build, models) has finished, so lint and type checks count; a
bare pytest run counts from its own start.
"""

from __future__ import annotations

import time

import pytest

from contracts.config_schema.settings import GateSettings
from tests.conftest import session_started_at

SUITE_BUDGET_S = 25 * 60


@pytest.mark.req("ORCH-9018")
def test_make_test_finishes_within_its_budget(request: pytest.FixtureRequest) -> None:
    started_at = GateSettings().suite_started_at or request.config.stash[session_started_at]
    elapsed_s = time.time() - started_at

    assert elapsed_s <= SUITE_BUDGET_S, (
        f"the suite took {elapsed_s:.0f} s, over its budget of {SUITE_BUDGET_S} s"
    )


@pytest.mark.req("ORCH-9018")
def test_this_module_is_collected_last(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    budget_items = [i for i in items if i.nodeid.startswith("tests/tooling/test_suite_budget.py")]

    assert items[-len(budget_items) :] == budget_items
