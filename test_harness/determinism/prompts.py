"""The 64 seeded prompts of the determinism suite, and the task bodies that pin them to a replica.

The prompts mix completion and chat tasks, greedy and sampled decoding, and several top_p and top_k
values, so both engine paths and every sampler of profile v1 are exercised. Everything derives from a
fixed seed: the suite is the same on every run and every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any

PROMPT_COUNT = 64
MAX_TOKENS = 40
SUITE_SEED = 9011

_SUBJECTS = (
    "the sea",
    "a lighthouse",
    "winter bread",
    "a clockmaker",
    "the moon",
    "a red bicycle",
    "old maps",
    "rain on a roof",
    "a chess game",
    "the first snow",
    "a quiet library",
    "mountain goats",
    "a paper boat",
    "the night train",
    "a beehive",
    "an empty stage",
)
_FORMS = (
    "Write one sentence about {}.",
    "Tell a very short story about {}.",
    "List three facts about {}:",
    "Describe {} to a child.",
)
_TEMPERATURES = (0.0, 0.7, 1.0)
_TOP_PS = (0.9, 1.0)
_TOP_KS = (0, 40)


@dataclass(frozen=True)
class SeededPrompt:
    """One prompt of the suite with its seed and sampling."""

    index: int
    text: str
    chat: bool
    seed: int
    temperature: float
    top_p: float
    top_k: int


def seeded_prompts(count: int = PROMPT_COUNT, suite_seed: int = SUITE_SEED) -> list[SeededPrompt]:
    """`count` distinct prompts; every fourth is a chat task."""
    rng = Random(suite_seed)
    prompts = []
    for index in range(count):
        subject = _SUBJECTS[index % len(_SUBJECTS)]
        form = _FORMS[(index // len(_SUBJECTS)) % len(_FORMS)]
        prompts.append(
            SeededPrompt(
                index=index,
                text=form.format(subject),
                chat=index % 4 == 3,
                seed=rng.randrange(2**32),
                temperature=rng.choice(_TEMPERATURES),
                top_p=rng.choice(_TOP_PS),
                top_k=rng.choice(_TOP_KS),
            )
        )
    return prompts


def pinned_body(prompt: SeededPrompt, model_ref: str, pool_id: str, replica_id: str) -> dict[str, Any]:
    """A strict TaskRequest for `prompt`, pinned to one replica (never falls back, ORCH-3003)."""
    body: dict[str, Any] = {
        "model_ref": model_ref,
        "max_tokens": MAX_TOKENS,
        "seed": prompt.seed,
        "temperature": prompt.temperature,
        "top_p": prompt.top_p,
        "top_k": prompt.top_k,
        "determinism": "strict",
        "placement": {"mode": "pin", "pin_pool_id": pool_id, "pin_replica_id": replica_id},
    }
    if prompt.chat:
        body["messages"] = [{"role": "user", "content": prompt.text}]
    else:
        body["prompt"] = prompt.text
    return body
