"""Release gate: one strict llama.cpp replica set streams byte-identical tokens on every replica (ORCH-9011).

Two replicas of one pool (single slot, no continuous batching) run the 64 seeded prompts, each run
pinned to a replica through orchestratord, twice each; any divergence in the first 32 tokens or in
the whole stream writes a token diff under artifacts/determinism/ and fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from test_harness.determinism.prompts import PROMPT_COUNT, seeded_prompts
from test_harness.determinism.suite import run_suite, write_diff_artifact
from test_harness.stack import DEFAULT_MODEL_REF, LocalStack, local_stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "determinism"
REPLICAS = 2


@pytest.fixture(scope="module")
def two_replica_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """pool_managerd with two strict SmolLM2 replicas of one pool, and orchestratord (logs kept by pytest)."""
    with local_stack(replicas=REPLICAS, work_dir=tmp_path_factory.mktemp("determinism-stack")) as stack:
        yield stack


def ready_replica_ids(stack: LocalStack) -> list[str]:
    """The pool's ready replicas, as the control plane lists them."""
    with httpx.Client(base_url=stack.orchestratord_url, trust_env=False) as client:
        health = client.get(f"/v1/pools/{stack.pool_id}/health").json()
    return sorted(r["replica_id"] for r in health["replicas"] if r["ready"])


@pytest.mark.req("ORCH-9011", "ORCH-3501", "ORCH-3502", "ORCH-3003")
@pytest.mark.real_engine
@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_seeded_prompts_stream_identically_on_both_replicas_and_across_runs(
    two_replica_stack: LocalStack,
) -> None:
    replica_ids = ready_replica_ids(two_replica_stack)
    assert len(replica_ids) == REPLICAS, f"need {REPLICAS} ready replicas, got {replica_ids}"
    prompts = seeded_prompts()
    assert len(prompts) == PROMPT_COUNT

    timeout = httpx.Timeout(120.0, connect=5.0)
    async with httpx.AsyncClient(
        base_url=two_replica_stack.orchestratord_url, timeout=timeout, trust_env=False
    ) as client:
        result = await run_suite(
            client, prompts, replica_ids, model_ref=DEFAULT_MODEL_REF, pool_id=two_replica_stack.pool_id
        )

    assert not result.failures, "\n".join(result.failures)
    if result.divergences:
        artifact = write_diff_artifact(result.divergences, ARTIFACTS)
        first = result.divergences[0]
        pytest.fail(
            f"{len(result.divergences)} divergent stream(s), token diff in {artifact}; first: prompt "
            f"{first.prompt.index} {first.reference} vs {first.other} at token {first.first_index}"
        )
