"""Journey: a client submits a task, streams the answer, and cancels a long one (ORCH-9015)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import scenarios

from test_harness.chaos.stack import MockStack, NodePlan
from tests.bdd.journey_support import journey_stack

pytestmark = [pytest.mark.req("ORCH-9015", "ORCH-1001", "ORCH-1010", "ORCH-1030"), pytest.mark.timeout(90)]

scenarios("features/submit_stream_cancel.feature")


@pytest.fixture(scope="module")
def stack() -> Iterator[MockStack]:
    with journey_stack([NodePlan("node-a", ["pool-a"], replicas=1, token_delay_ms=20)]) as running:
        yield running
