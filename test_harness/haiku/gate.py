"""Plays the Haiku gate through OrchQueue v1 (ORCH-9010): at most 3 attempts with distinct seeds.

Each attempt is one whole run of the protocol: its own challenge (the minute at that moment and a fresh
nonce) and its own 30 s budget. A fresh nonce per attempt keeps the attempts independent: a nonce the
model finds hard to copy would otherwise sink every seed alike. An attempt passes when the streamed
output passes `check_haiku`, the stream ended without an error,
the started event and the task status both report a real engine with its engine_version and
model_digest, and `orchd_output_tokens_total` rose across the attempt. An engine that looks like a mock
ends the gate at once: retrying cannot make a mock real.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from test_harness.haiku.anticheat import engine_problems
from test_harness.haiku.checks import Verdict, check_haiku
from test_harness.haiku.orchqueue import TaskRun, counter_total, run_task
from test_harness.haiku.prompt import COMPLETION_END, HaikuConfig, chat_messages, completion_prompt
from test_harness.haiku.protocol import Challenge

MAX_ATTEMPTS = 3
TIME_BUDGET_S = 30.0
TOKENS_OUT_COUNTER = "orchd_output_tokens_total"
Checker = Callable[[str, Challenge], Verdict]


@dataclass
class Attempt:
    """One attempt: its seed, what the client saw, and everything that kept it from passing."""

    seed: int
    challenge: Challenge
    run: TaskRun | None
    problems: list[str]
    elapsed_s: float = 0.0
    engine_problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No problem of any kind, within the time budget."""
        return not self.problems and not self.engine_problems and self.elapsed_s <= TIME_BUDGET_S


@dataclass
class GateResult:
    """All attempts of one gate."""

    attempts: list[Attempt]

    @property
    def passed(self) -> bool:
        """Some attempt passed."""
        return any(attempt.passed for attempt in self.attempts)

    @property
    def challenges(self) -> list[Challenge]:
        """The challenge of every attempt played."""
        return [attempt.challenge for attempt in self.attempts]

    def explain(self) -> str:
        """Per attempt: challenge, seed, time, problems and the output, for the failure message."""
        lines = []
        for attempt in self.attempts:
            text = attempt.run.text if attempt.run else ""
            problems = attempt.problems + attempt.engine_problems
            lines.append(
                f"{attempt.challenge}, seed {attempt.seed}, {attempt.elapsed_s:.1f} s "
                f"(budget {TIME_BUDGET_S} s): {'; '.join(problems) or 'passed'}; output {text!r}"
            )
        return "\n".join(lines)


def task_body(config: HaikuConfig, challenge: Challenge, seed: int, model_ref: str) -> dict[str, Any]:
    """The TaskRequest of one attempt, with every sampling field explicit."""
    body: dict[str, Any] = {
        "model_ref": model_ref,
        "max_tokens": config.max_tokens,
        "seed": seed,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k,
    }
    if config.style == "chat":
        body["messages"] = chat_messages(challenge)
    else:
        body["prompt"] = completion_prompt(challenge)
        body["stop"] = [COMPLETION_END]
    return body


def identity_problems(run: TaskRun, *, require_real_llama: bool, expected_digest: str | None) -> list[str]:
    """The engine identity must be visible in the started event and the task status, and real."""
    problems: list[str] = []
    replay = run.status.get("replay")
    for where, identity in (("started event", run.started), ("task status replay", replay)):
        if not isinstance(identity, dict):
            problems.append(f"{where} is missing")
            continue
        problems += [
            f"{where}: {p}" for p in engine_problems(identity, require_real_llama=require_real_llama)
        ]
        if expected_digest is not None and identity.get("model_digest") != expected_digest:
            reported = identity.get("model_digest")
            problems.append(f"{where}: model_digest {reported!r} is not the served file's {expected_digest}")
    return problems


def play_attempt(
    client: httpx.Client,
    body: dict[str, Any],
    challenge: Challenge,
    *,
    checker: Checker,
    require_real_llama: bool,
    expected_digest: str | None,
) -> Attempt:
    """Scrape, run one task, scrape again, and judge."""
    started = time.monotonic()
    seed = int(body["seed"])
    before = counter_total(client, TOKENS_OUT_COUNTER)
    run = run_task(client, body)
    after = counter_total(client, TOKENS_OUT_COUNTER)
    problems: list[str] = []
    if run.error is not None:
        problems.append(f"stream ended with error {run.error}")
    if after <= before:
        problems.append(f"{TOKENS_OUT_COUNTER} did not rise ({before} -> {after})")
    problems += list(checker(run.text, challenge).reasons)
    engine = identity_problems(run, require_real_llama=require_real_llama, expected_digest=expected_digest)
    elapsed_s = time.monotonic() - started
    if elapsed_s > TIME_BUDGET_S:
        problems.append(f"took {elapsed_s:.1f} s, over the {TIME_BUDGET_S} s budget")
    return Attempt(
        seed=seed,
        challenge=challenge,
        run=run,
        problems=problems,
        elapsed_s=elapsed_s,
        engine_problems=engine,
    )


def play_gate(
    client: httpx.Client,
    new_challenge: Callable[[], Challenge],
    *,
    config: HaikuConfig,
    model_ref: str,
    seeds: Sequence[int],
    require_real_llama: bool,
    expected_digest: str | None = None,
    checker: Checker = check_haiku,
) -> GateResult:
    """Up to 3 attempts with distinct seeds, each on a new challenge, stopping at the first pass or a mock."""
    if len(set(seeds)) != len(seeds) or not 1 <= len(seeds) <= MAX_ATTEMPTS:
        raise ValueError(f"need 1..{MAX_ATTEMPTS} distinct seeds, got {list(seeds)}")
    attempts: list[Attempt] = []
    for seed in seeds:
        challenge = new_challenge()
        body = task_body(config, challenge, seed, model_ref)
        attempt = play_attempt(
            client,
            body,
            challenge,
            checker=checker,
            require_real_llama=require_real_llama,
            expected_digest=expected_digest,
        )
        attempts.append(attempt)
        if attempt.passed or attempt.engine_problems:
            break
    return GateResult(attempts=attempts)
