"""Journey: an operator drains a pool under load and reloads a pool with a new model (ORCH-9015)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import scenarios

from test_harness.chaos.stack import MockStack, NodePlan
from tests.bdd.journey_support import journey_stack

pytestmark = [pytest.mark.req("ORCH-9015", "ORCH-1103", "ORCH-1104", "ORCH-6011"), pytest.mark.timeout(90)]

scenarios("features/scale_pool.feature")


@pytest.fixture(scope="module")
def stack() -> Iterator[MockStack]:
    plans = [NodePlan("node-a", ["pool-a", "pool-b"], replicas=1, token_delay_ms=40)]
    with journey_stack(plans) as running:
        yield running
