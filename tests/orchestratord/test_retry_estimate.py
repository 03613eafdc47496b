"""A queue refusal's retry hint is one slot's time to serve the task at the pool's predicted rates
(ORCH-2014), and those rates start from the configured priors (ORCH-2205)."""

from __future__ import annotations

from typing import Any

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import Daemon, MockReplica, make_config, running_daemon

BUSY = [MockReplica(slots=1, faults=Faults(token_delay_ms=100))]


async def full_queue(daemon: Daemon) -> None:
    running = (await daemon.submit(max_tokens=50)).json()["task_id"]
    await daemon.wait_state(running, "running")
    assert (await daemon.submit(max_tokens=50)).status_code == 202


async def refusal_retry_ms(daemon: Daemon, max_tokens: int) -> int:
    response = await daemon.submit(max_tokens=max_tokens)
    assert response.status_code == 429, response.text
    return int(response.json()["retry_after_ms"])


def capacity_one(**extra: Any) -> Any:
    return make_config(queues={"defaults": {"capacity": 1}}, **extra)


@pytest.mark.req("ORCH-2014", "ORCH-2205")
async def test_retry_hint_is_one_slots_service_time_at_the_default_priors() -> None:
    async with running_daemon(BUSY, config=capacity_one()) as daemon:
        await full_queue(daemon)
        # Default priors: first token 500 ms, 20 tokens/s per slot.
        assert await refusal_retry_ms(daemon, 8) == 500 + 8 * 1000 // 20
        assert await refusal_retry_ms(daemon, 100) == 500 + 100 * 1000 // 20


@pytest.mark.req("ORCH-2014", "ORCH-2205")
async def test_retry_hint_follows_the_configured_priors() -> None:
    predictions = {"first_token_ms_prior": 1000, "tokens_per_second_prior": 10.0, "ewma_alpha": 0.5}
    async with running_daemon(BUSY, config=capacity_one(predictions=predictions)) as daemon:
        await full_queue(daemon)
        assert await refusal_retry_ms(daemon, 8) == 1000 + 8 * 1000 // 10
