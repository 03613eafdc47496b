"""`backoff_ms` of an admission: 0 below 80% queue fill, then the pool's retry estimate."""

from __future__ import annotations

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, running_daemon

BUSY = [MockReplica(slots=1, faults=Faults(token_delay_ms=100))]


@pytest.mark.req("ORCH-1007")
async def test_backoff_is_zero_below_80_percent_fill_and_the_retry_estimate_from_there() -> None:
    config = make_config(queues={"defaults": {"capacity": 5, "policy": "reject"}})
    async with running_daemon(BUSY, config=config) as daemon:
        running = (await daemon.submit(max_tokens=50)).json()["task_id"]
        await daemon.wait_state(running, "running")
        # Depth after admission 1, 2, 3 of 5: below 80%.
        for _ in range(3):
            assert (await daemon.submit(max_tokens=20)).json()["backoff_ms"] == 0
        fourth = (await daemon.submit(max_tokens=20)).json()["backoff_ms"]  # depth 4 = 80%
        fifth = (await daemon.submit(max_tokens=20)).json()["backoff_ms"]
        assert fourth > 0 and fifth > 0
        refused = await daemon.submit(max_tokens=20)
        assert refused.status_code == 429
        # The same estimate the refusal would carry, not a constant of its own.
        assert abs(fifth - refused.json()["retry_after_ms"]) <= fifth * 0.5
