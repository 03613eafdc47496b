"""A client's seed is used verbatim and reported in the started event and the task status."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest

from tests.orchestratord.orchd_harness import Daemon, read_stream


def record_seeds(daemon: Daemon) -> list[int]:
    """Seeds the mock engine is asked to decode with."""
    engine = daemon.engines["r0"]
    seen: list[int] = []
    original = engine.generate

    def generate(
        prompt: str, prompt_tokens: int, max_tokens: int, seed: int, stop: Any
    ) -> AsyncGenerator[Any]:
        seen.append(seed)
        return original(prompt, prompt_tokens, max_tokens, seed, stop)

    engine.generate = generate  # type: ignore[method-assign]
    return seen


@pytest.mark.req("ORCH-2402")
@pytest.mark.parametrize("seed", [0, 12345, 2**32 - 1])
async def test_the_given_seed_reaches_the_engine_and_is_reported(daemon: Daemon, seed: int) -> None:
    seen = record_seeds(daemon)
    task_id = (await daemon.submit(seed=seed, max_tokens=3)).json()["task_id"]
    _, events = await read_stream(daemon.client, task_id)
    assert events[0].event == "started" and events[0].data["seed"] == seed
    assert (await daemon.client.get(f"/v1/tasks/{task_id}")).json()["seed"] == seed
    assert seen == [seed]
