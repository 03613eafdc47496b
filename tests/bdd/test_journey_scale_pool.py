"""Journey: an operator drains a pool under load and reloads a pool with a new model (ORCH-9015)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import scenario

from test_harness.chaos.stack import MockStack, NodePlan
from tests.bdd.journey_support import journey_stack

pytestmark = [pytest.mark.req("ORCH-9015", "ORCH-1103", "ORCH-1104", "ORCH-6011"), pytest.mark.timeout(90)]


@scenario("features/scale_pool.feature", "Drain a pool while it serves")
def test_drain_a_pool_while_it_serves() -> None:
    """Runs the scenario's steps."""


@scenario("features/scale_pool.feature", "Reload a pool with a new model")
def test_reload_a_pool_with_a_new_model() -> None:
    """Runs the scenario's steps."""


@pytest.fixture(scope="module")
def stack() -> Iterator[MockStack]:
    plans = [NodePlan("node-a", ["pool-a", "pool-b"], replicas=1, token_delay_ms=40)]
    with journey_stack(plans) as running:
        yield running
