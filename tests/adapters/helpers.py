"""Small helpers shared by the adapter tests."""

from __future__ import annotations

import random

from worker_adapters.mock.engine import token_at
from worker_adapters.protocol import EngineAdapter
from worker_adapters.types import FinalEvent, GenerateRequest, TokenEvent

PROMPT = "the quick brown fox jumps over the lazy dog"


def request(max_tokens: int = 12, seed: int = 7, prompt: str = PROMPT, **changes: object) -> GenerateRequest:
    """A completion request with explicit sampling."""
    return GenerateRequest(prompt=prompt, max_tokens=max_tokens, seed=seed, **changes)  # type: ignore[arg-type]


def expected_words(prompt: str, seed: int, count: int) -> list[str]:
    """What the mock engine generates for (prompt, seed), read from its vocabulary draw."""
    rng = random.Random(f"{seed}|{prompt}")
    return [token_at(rng).text for _ in range(count)]


async def collect(adapter: EngineAdapter, req: GenerateRequest) -> tuple[list[TokenEvent], FinalEvent]:
    """Every token event and the final event of one stream; fails if the shape is wrong."""
    tokens: list[TokenEvent] = []
    finals: list[FinalEvent] = []
    async for event in adapter.stream(req):
        assert not finals, "nothing may follow the final event"
        if isinstance(event, TokenEvent):
            tokens.append(event)
        else:
            finals.append(event)
    assert len(finals) == 1
    return tokens, finals[0]
