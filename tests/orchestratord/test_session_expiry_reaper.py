"""Expired sessions are forgotten, budgets and affinity included, within 1 s of expiry, without anyone asking
for them (ORCH-4504)."""

from __future__ import annotations

import uuid

import pytest

from orchestrator_core.budgets import BudgetRemaining
from tests.orchestratord.orchd_harness import ShiftedClock, eventually, make_config, running_daemon

SLACK_S = 0.25  # scheduling of the event loop on a shared 2-core machine


@pytest.mark.req("ORCH-4504")
async def test_an_expired_session_is_dropped_by_the_reaper_within_a_second() -> None:
    clock = ShiftedClock()
    config = make_config(sessions={"ttl_ms": 60_000, "tokens_budget": 1000})
    session_id = str(uuid.uuid4())
    async with running_daemon(config=config, clock=clock) as daemon:
        task_id = (await daemon.submit(session_id=session_id, max_tokens=4)).json()["task_id"]
        await daemon.wait_state(task_id, "succeeded")
        sessions = daemon.services.sessions
        assert len(sessions) == 1
        assert sessions.budgets.remaining(session_id).tokens is not None

        clock.advance(60.0)  # the TTL has now elapsed
        # Nothing asks for the session: only the reaper can drop it.
        await eventually(lambda: len(sessions) == 0, timeout_s=1.0 + SLACK_S)
        assert sessions.budgets.remaining(session_id) == BudgetRemaining(None, None)
