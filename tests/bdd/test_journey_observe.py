"""Journey: an operator follows a task through the metrics and the JSON logs (ORCH-9015)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import scenario

from test_harness.chaos.stack import MockStack, NodePlan
from tests.bdd.journey_support import journey_stack

pytestmark = [pytest.mark.req("ORCH-9015", "ORCH-8003", "ORCH-1202", "ORCH-5006"), pytest.mark.timeout(90)]


@scenario("features/observe_and_debug.feature", "Follow a task through metrics and logs")
def test_follow_a_task_through_metrics_and_logs() -> None:
    """Runs the scenario's steps."""


@pytest.fixture(scope="module")
def stack() -> Iterator[MockStack]:
    with journey_stack([NodePlan("node-a", ["pool-a"], replicas=1)]) as running:
        yield running
