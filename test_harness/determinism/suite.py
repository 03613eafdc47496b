"""Runs the determinism suite through orchestratord and compares the streams token by token (ORCH-9011).

Each replica of the strict replica set runs every seeded prompt twice, pinned to it, once in prompt
order and once in reverse order (so a run never sees the same predecessor as its twin, which would
hide state carried over between requests). The replicas run concurrently, each one task at a time.
Every stream is compared with the reference run (first replica, first pass): the first 32 tokens and
the whole stream (token texts and stop_reason) must be byte-identical. On any divergence a JSON token
diff is written under `artifacts/determinism/`.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from test_harness.determinism.prompts import SeededPrompt, pinned_body
from test_harness.haiku.orchqueue import TaskRun, run_task_async

PREFIX_TOKENS = 32
PASSES = 2
RunKey = tuple[str, int]  # (replica_id, pass number)


@dataclass(frozen=True)
class Divergence:
    """Two runs of one prompt that differ, and where."""

    prompt: SeededPrompt
    reference: RunKey
    other: RunKey
    first_index: int
    in_prefix: bool
    reference_tokens: list[str]
    other_tokens: list[str]
    reference_stop: object
    other_stop: object


@dataclass
class SuiteResult:
    """Every run of every prompt, and what went wrong."""

    runs: dict[RunKey, dict[int, TaskRun]] = field(default_factory=dict)
    divergences: list[Divergence] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def stop_reason(run: TaskRun) -> object:
    """The stop_reason of the end event (None when the stream did not end cleanly)."""
    return run.end.get("stop_reason") if run.end else None


def first_difference(a: Sequence[str], b: Sequence[str]) -> int | None:
    """The first index at which two token sequences differ (including one ending early), else None."""
    for index, (left, right) in enumerate(zip(a, b, strict=False)):
        if left.encode() != right.encode():
            return index
    return None if len(a) == len(b) else min(len(a), len(b))


def compare(
    prompt: SeededPrompt, reference: tuple[RunKey, TaskRun], other: tuple[RunKey, TaskRun]
) -> Divergence | None:
    """The divergence of two runs of one prompt, or None when they are byte-identical."""
    (ref_key, ref_run), (other_key, other_run) = reference, other
    index = first_difference(ref_run.tokens, other_run.tokens)
    same_stop = stop_reason(ref_run) == stop_reason(other_run)
    if index is None and same_stop:
        return None
    first = index if index is not None else len(ref_run.tokens)
    return Divergence(
        prompt=prompt,
        reference=ref_key,
        other=other_key,
        first_index=first,
        in_prefix=index is not None and index < PREFIX_TOKENS,
        reference_tokens=ref_run.tokens,
        other_tokens=other_run.tokens,
        reference_stop=stop_reason(ref_run),
        other_stop=stop_reason(other_run),
    )


def run_problems(key: RunKey, prompt: SeededPrompt, run: TaskRun) -> list[str]:
    """A run must end cleanly on the replica it was pinned to, with contiguous token indices."""
    problems = []
    where = f"prompt {prompt.index} on {key[0]} pass {key[1]}"
    if run.error is not None or run.end is None:
        problems.append(f"{where}: stream ended without `end` ({run.error})")
    replica = (run.started or {}).get("replica_id")
    if replica != key[0]:
        problems.append(f"{where}: pinned to {key[0]} but started on {replica}")
    if run.indices != list(range(len(run.indices))):
        problems.append(f"{where}: token indices {run.indices} are not 0..n-1")
    return problems


def identity_problems(result: SuiteResult) -> list[str]:
    """All runs must report one replica-set identity (ORCH-3004)."""
    keys = ("engine", "engine_version", "model_digest", "sampler_profile_version")
    identities = {
        tuple((run.started or {}).get(k) for k in keys)
        for runs in result.runs.values()
        for run in runs.values()
    }
    return (
        []
        if len(identities) == 1
        else [f"runs report several replica-set identities: {sorted(map(str, identities))}"]
    )


async def _replica_worker(
    client: httpx.AsyncClient,
    prompts: Sequence[SeededPrompt],
    replica_id: str,
    *,
    model_ref: str,
    pool_id: str,
    result: SuiteResult,
    reverse_first: bool,
) -> None:
    for pass_number in range(1, PASSES + 1):
        reverse = reverse_first == (pass_number == 1)
        order = list(reversed(prompts)) if reverse else list(prompts)
        runs = result.runs.setdefault((replica_id, pass_number), {})
        for prompt in order:
            runs[prompt.index] = await run_task_async(
                client, pinned_body(prompt, model_ref, pool_id, replica_id)
            )


async def run_suite(
    client: httpx.AsyncClient,
    prompts: Sequence[SeededPrompt],
    replica_ids: Sequence[str],
    *,
    model_ref: str,
    pool_id: str,
) -> SuiteResult:
    """Run every prompt PASSES times on every replica, then compare each run with the reference."""
    result = SuiteResult()
    await asyncio.gather(
        *(
            _replica_worker(
                client,
                prompts,
                replica,
                model_ref=model_ref,
                pool_id=pool_id,
                result=result,
                reverse_first=i % 2 == 1,
            )
            for i, replica in enumerate(replica_ids)
        )
    )
    reference_key: RunKey = (replica_ids[0], 1)
    for key, runs in sorted(result.runs.items()):
        for prompt in prompts:
            result.failures += run_problems(key, prompt, runs[prompt.index])
            if key != reference_key:
                reference = result.runs[reference_key][prompt.index]
                divergence = compare(prompt, (reference_key, reference), (key, runs[prompt.index]))
                if divergence is not None:
                    result.divergences.append(divergence)
    result.failures += identity_problems(result)
    return result


def _diff_entry(divergence: Divergence) -> dict[str, Any]:
    ref_name = f"{divergence.reference[0]}/pass{divergence.reference[1]}"
    other_name = f"{divergence.other[0]}/pass{divergence.other[1]}"
    unified = difflib.unified_diff(
        [repr(t) for t in divergence.reference_tokens],
        [repr(t) for t in divergence.other_tokens],
        fromfile=ref_name,
        tofile=other_name,
        lineterm="",
    )
    return {
        "prompt_index": divergence.prompt.index,
        "prompt": divergence.prompt.text,
        "chat": divergence.prompt.chat,
        "seed": divergence.prompt.seed,
        "sampling": {
            "temperature": divergence.prompt.temperature,
            "top_p": divergence.prompt.top_p,
            "top_k": divergence.prompt.top_k,
        },
        "reference": ref_name,
        "other": other_name,
        "first_divergent_token": divergence.first_index,
        "within_first_32": divergence.in_prefix,
        "stop_reason": {"reference": divergence.reference_stop, "other": divergence.other_stop},
        "reference_tokens": divergence.reference_tokens,
        "other_tokens": divergence.other_tokens,
        "token_diff": list(unified),
    }


def write_diff_artifact(divergences: Sequence[Divergence], directory: Path) -> Path:
    """A JSON file with one token diff per divergence; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"token-diff-{stamp}.json"
    payload = {"divergences": [_diff_entry(d) for d in divergences]}
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    return path
