"""The stack a feature's journeys run on (ORCH-9015)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from test_harness.chaos.stack import MockStack, NodePlan, mock_stack


@contextmanager
def journey_stack(plans: list[NodePlan]) -> Iterator[MockStack]:
    """The stack of one feature; every process it started must be gone afterwards (ORCH-9019)."""
    with mock_stack(plans, timeout_s=90.0) as stack:
        yield stack
    assert stack.live_pids() == []
