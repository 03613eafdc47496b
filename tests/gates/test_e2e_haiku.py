"""Release gate: a real model, served by the whole local stack, writes the Haiku challenge (ORCH-9010).

Driven only through OrchQueue v1 (POST /v1/tasks and the SSE stream). See test_harness/haiku for the
protocol, the prompt, the verdict and the anti-cheat checks, and test_harness/measurements for the
measured pass rates behind the choice of model and sampling.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts.config_schema.settings import GateSettings
from test_harness.haiku.anticheat import canned_answers, repository_files
from test_harness.haiku.gate import MAX_ATTEMPTS, play_gate
from test_harness.haiku.prompt import GATE_CONFIG
from test_harness.haiku.protocol import challenge_at

from .conftest import GateTarget

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("ORCH-9010", "ORCH-1021")
@pytest.mark.real_engine
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_real_model_writes_a_haiku_with_the_minute_and_the_nonce(
    haiku_target: GateTarget, gate_settings: GateSettings
) -> None:
    seeds: set[int] = set()
    while len(seeds) < MAX_ATTEMPTS:
        seeds.add(secrets.randbelow(2**32))
    with haiku_target.client() as client:
        result = play_gate(
            client,
            lambda: challenge_at(datetime.now(UTC)),
            config=GATE_CONFIG,
            model_ref=haiku_target.model_ref,
            seeds=sorted(seeds),
            require_real_llama=gate_settings.require_real_llama,
            expected_digest=haiku_target.expected_digest,
        )

    files = repository_files(REPO_ROOT)
    canned = [hit for challenge in result.challenges for hit in canned_answers(REPO_ROOT, files, challenge)]
    assert not canned, f"the repository holds the answer: {canned}"
    engine_problems = [p for attempt in result.attempts for p in attempt.engine_problems]
    assert not engine_problems, f"not a real engine: {engine_problems}"
    assert result.passed, result.explain()
