"""Journey: a client submits a task, streams the answer, and cancels a long one (ORCH-9015)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_bdd import scenario

from test_harness.chaos.stack import MockStack, NodePlan
from tests.bdd.journey_support import journey_stack

pytestmark = [pytest.mark.req("ORCH-9015", "ORCH-1001", "ORCH-1010", "ORCH-1030"), pytest.mark.timeout(90)]


@scenario("features/submit_stream_cancel.feature", "Stream a short answer")
def test_stream_a_short_answer() -> None:
    """Runs the scenario's steps."""


@scenario("features/submit_stream_cancel.feature", "Cancel an answer while it streams")
def test_cancel_an_answer_while_it_streams() -> None:
    """Runs the scenario's steps."""


@pytest.fixture(scope="module")
def stack() -> Iterator[MockStack]:
    with journey_stack([NodePlan("node-a", ["pool-a"], replicas=1, token_delay_ms=20)]) as running:
        yield running
