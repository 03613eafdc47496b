"""Dispatch order: FIFO within a pool, class and tenant."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import Daemon, MockReplica, running_daemon

SLOW = Faults(token_delay_ms=20)


def record_prompts(daemon: Daemon, replica_id: str = "r0") -> list[str]:
    """Prompts in the order the mock engine is asked to decode them."""
    engine = daemon.engines[replica_id]
    seen: list[str] = []
    original = engine.generate

    def generate(
        prompt: str, prompt_tokens: int, max_tokens: int, seed: int, stop: Any
    ) -> AsyncGenerator[Any]:
        seen.append(prompt)
        return original(prompt, prompt_tokens, max_tokens, seed, stop)

    engine.generate = generate  # type: ignore[method-assign]
    return seen


@pytest.mark.req("ORCH-2006")
async def test_tasks_of_one_tenant_and_class_start_in_admission_order() -> None:
    async with running_daemon([MockReplica(slots=1, faults=SLOW)]) as daemon:
        seen = record_prompts(daemon)
        blocker = (await daemon.submit(prompt="blocker", max_tokens=10)).json()["task_id"]
        await daemon.wait_state(blocker, "running")
        prompts = [f"task {n}" for n in range(6)]
        ids = [(await daemon.submit(prompt=p, max_tokens=2)).json()["task_id"] for p in prompts]
        await daemon.wait_state(ids[-1], "succeeded")
        assert seen == ["blocker", *prompts]
