"""The relay phase: every arm at every concurrency, interleaved in rounds, and the per-arm summaries.

Within a round the arms run back to back at one concurrency, in an order that rotates from round to round
and level to level, so slow drift of the (shared) machine spreads over all arms instead of one. Around
each cell the driver samples orchestratord's CPU time and RSS from /proc.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.arms import Arm
from bench.plan import Plan
from bench.stack import HOST, MODEL_REF, LoadGenerator, Stack
from bench.stats import GapSamples, percentile, rounded

Progress = Callable[[str], None]
READY_WAIT_S = 10.0


@dataclass(slots=True)
class Cell:
    """Every round of one arm at one concurrency, merged."""

    arm: Arm
    concurrency: int
    requests: int = 0
    failed: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    daemon_cpu_s: float = 0.0
    daemon_rss_max: int = 0
    ttft_ms: list[float] = field(default_factory=list)
    gaps: GapSamples = field(default_factory=GapSamples)
    errors: dict[str, int] = field(default_factory=dict)
    round_tokens_per_s: list[float] = field(default_factory=list)
    restarts: int = 0

    def add(self, answer: dict[str, Any], cpu_s: float, rss: int) -> None:
        self.requests += int(answer["requests"])
        self.failed += int(answer["failed"])
        self.tokens += int(answer["tokens"])
        self.elapsed_s += float(answer["elapsed_s"])
        self.daemon_cpu_s += cpu_s
        self.daemon_rss_max = max(self.daemon_rss_max, rss)
        self.ttft_ms.extend(answer["ttft_ms"])
        self.gaps.merge(GapSamples.from_json(answer["gaps_us"]))
        for message, count in answer["errors"].items():
            self.errors[message] = self.errors.get(message, 0) + int(count)
        self.round_tokens_per_s.append(round(int(answer["tokens"]) / float(answer["elapsed_s"]), 1))

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0


def _target(arm: Arm, stack: Stack, plan: Plan) -> dict[str, object]:
    port = stack.engine_port if arm == "direct" else stack.daemon_port
    return {
        "arm": arm,
        "host": HOST,
        "port": port,
        "max_tokens": plan.max_tokens,
        "model": MODEL_REF,
        "wire": plan.wire,
    }


def daemon_ready(stack: Stack, wait_s: float = READY_WAIT_S) -> bool:
    """Whether orchestratord's /readyz answers 200 within `wait_s` (a replica it calls unready fails
    every task with 503, so a cell run then would only measure refusals)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if httpx.get(f"http://{HOST}:{stack.daemon_port}/readyz", timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _order(arms: tuple[Arm, ...], shift: int) -> list[Arm]:
    shift %= len(arms)
    return [*arms[shift:], *arms[:shift]]


def run_relay(
    plan: Plan, loadgen: LoadGenerator, stack: Stack, progress: Progress
) -> dict[Arm, dict[int, Cell]]:
    """Runs the rounds; returns the merged cell of every (arm, concurrency)."""
    warm_concurrency = min(16, max(plan.concurrency))
    for arm in plan.arms:
        loadgen.call(
            {
                "op": "stream",
                "target": _target(arm, stack, plan),
                "concurrency": warm_concurrency,
                "duration_s": plan.warmup_s,
            }
        )
    cells = {arm: {c: Cell(arm, c) for c in plan.concurrency} for arm in plan.arms}
    for round_no in range(plan.rounds):
        for level, concurrency in enumerate(plan.concurrency):
            for arm in _order(plan.arms, round_no + level):
                if arm != "direct" and not daemon_ready(stack):
                    # Stuck unready (see bench/README.md): the cell would only count 503s. A fresh daemon
                    # lets the remaining cells measure the relay; the restart is recorded.
                    cells[arm][concurrency].restarts += 1
                    progress(
                        f"round {round_no + 1} c={concurrency} {arm}: orchestratord not ready, restarted"
                    )
                    stack.restart_daemon()
                before = stack.daemon.sample()
                answer = loadgen.call(
                    {
                        "op": "stream",
                        "target": _target(arm, stack, plan),
                        "concurrency": concurrency,
                        "duration_s": plan.cell_s,
                    }
                )
                after = stack.daemon.sample()
                cells[arm][concurrency].add(answer, after.cpu_s - before.cpu_s, after.rss_bytes)
                rate = int(answer["tokens"]) / float(answer["elapsed_s"])
                progress(
                    f"round {round_no + 1}/{plan.rounds} c={concurrency:<3} {arm:<6} "
                    f"{rate:>9.0f} tokens/s  {answer['requests']} requests, {answer['failed']} failed"
                )
    return cells


def _pct(samples: list[float], fraction: float) -> float | None:
    return percentile(samples, fraction)


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def summarize(cells: dict[Arm, dict[int, Cell]]) -> dict[str, dict[str, dict[str, object]]]:
    """Per arm and concurrency: rates, latencies, orchestratord cost, and ratios to the direct arm."""
    direct = cells.get("direct", {})
    out: dict[str, dict[str, dict[str, object]]] = {}
    for arm, by_level in cells.items():
        out[arm] = {}
        for concurrency, cell in by_level.items():
            base = direct.get(concurrency)
            ttft50, ttft99 = _pct(cell.ttft_ms, 0.50), _pct(cell.ttft_ms, 0.99)
            base50 = _pct(base.ttft_ms, 0.50) if base else None
            base99 = _pct(base.ttft_ms, 0.99) if base else None
            summary: dict[str, object] = {
                "requests": cell.requests,
                "failed": cell.failed,
                "errors": cell.errors,
                "tokens": cell.tokens,
                "elapsed_s": round(cell.elapsed_s, 3),
                "requests_per_s": round(cell.requests_per_s, 1),
                "tokens_per_s": round(cell.tokens_per_s, 1),
                "tokens_per_s_by_round": cell.round_tokens_per_s,
                "daemon_restarts_before": cell.restarts,
                "ttft_ms": {"p50": rounded(ttft50), "p99": rounded(ttft99)},
                "inter_token_gap_ms": {
                    "p50": rounded(_us_to_ms(cell.gaps.percentile(0.50))),
                    "p99": rounded(_us_to_ms(cell.gaps.percentile(0.99))),
                    "samples": cell.gaps.count,
                },
            }
            if arm != "direct":
                summary["added_ttft_ms"] = {
                    "p50": rounded(_minus(ttft50, base50)),
                    "p99": rounded(_minus(ttft99, base99)),
                }
                summary["orchestratord"] = {
                    "cpu_s": round(cell.daemon_cpu_s, 3),
                    "cpu_s_per_1k_tokens": rounded(
                        cell.daemon_cpu_s / cell.tokens * 1000 if cell.tokens else None, 4
                    ),
                    "rss_mib_max": round(cell.daemon_rss_max / 2**20, 1),
                }
                if base is not None and base.tokens_per_s:
                    summary["ratio_to_direct"] = {
                        "tokens_per_s": round(cell.tokens_per_s / base.tokens_per_s, 3),
                        "requests_per_s": round(cell.requests_per_s / base.requests_per_s, 3),
                    }
            out[arm][str(concurrency)] = summary
    return out


def _us_to_ms(value: float | None) -> float | None:
    return None if value is None else value / 1000.0
