"""The shared phase (ORCH-4116): what sharing the state through Redis costs, side by side in one run.

- Relay: OrchQueue v1 streams at `Plan.shared_concurrency` through three stacks in interleaved rounds, each
  with its own mock engine: embedded (the default), Redis-backed with one instance (the price of sharing,
  judged >= 0.8x embedded), and Redis-backed with `--workers 2` pinned to both cores (what a second core
  gives on this machine, where the engine and the load generator also run on core 0).
- Admission in Redis mode, as the admission phase measures it embedded: tasks/s into a queue nothing
  dispatches, then the 429 p99 of a closed-loop flood once it is full.
- Bytes in Redis per queued task and per retained task (`bench.shared_state`).

The method takes no machine size: on a bigger machine raise `--workers` in `shared_arms` and pin the workers
to their own cores; bench/README.md says how.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.admission import NEVER_MS, hold_the_slot, latencies, measured_flood
from bench.plan import Plan
from bench.shared_state import measure
from bench.stack import HOST, MODEL_REF, DaemonSettings, EngineSettings, LoadGenerator, Stack, running_stack
from test_harness.redis_server import redis_server

Progress = Callable[[str], None]
# (name, workers, shared): the relay arms of the phase.
SHARED_ARMS: tuple[tuple[str, int, bool], ...] = (
    ("embedded", 1, False),
    ("redis, 1 instance", 1, True),
    ("redis, 2 workers", 2, True),
)


def _target(stack: Stack, plan: Plan) -> dict[str, object]:
    return {
        "arm": "v1",
        "host": HOST,
        "port": stack.daemon_port,
        "max_tokens": plan.max_tokens,
        "model": MODEL_REF,
        "wire": plan.wire,
    }


def _relay(
    plan: Plan, loadgen: LoadGenerator, stacks: dict[str, Stack], progress: Progress
) -> dict[str, Any]:
    totals: dict[str, dict[str, float]] = {
        name: {"tokens": 0, "elapsed_s": 0.0, "requests": 0, "failed": 0} for name in stacks
    }
    for stack in stacks.values():
        loadgen.call(
            {"op": "stream", "target": _target(stack, plan), "concurrency": 4, "duration_s": plan.warmup_s}
        )
    names = list(stacks)
    for round_no in range(plan.rounds):
        shift = round_no % len(names)
        for name in [*names[shift:], *names[:shift]]:
            command = {
                "op": "stream",
                "target": _target(stacks[name], plan),
                "concurrency": plan.shared_concurrency,
                "duration_s": plan.cell_s,
            }
            answer = loadgen.call(command)
            for key in totals[name]:
                totals[name][key] += answer[key]
            rate = int(answer["tokens"]) / float(answer["elapsed_s"])
            progress(f"shared round {round_no + 1}/{plan.rounds} {name:<18} {rate:>9.0f} tokens/s")
    relay: dict[str, dict[str, Any]] = {}
    for name, total in totals.items():
        rate = round(total["tokens"] / total["elapsed_s"], 1) if total["elapsed_s"] else 0.0
        relay[name] = {"tokens_per_s": rate, "requests": total["requests"], "failed": total["failed"]}
    embedded = relay["embedded"]["tokens_per_s"]
    for figures in relay.values():
        figures["vs_embedded"] = round(figures["tokens_per_s"] / embedded, 3) if embedded else None
    return relay


def _admission(plan: Plan, loadgen: LoadGenerator, log_dir: Path, redis_url: str) -> dict[str, Any]:
    engine = EngineSettings(wire=plan.wire, slots=1, ttft_ms=NEVER_MS)
    daemon = DaemonSettings(replica_slots=1, queue_capacity=plan.shared_admission_tasks, redis_url=redis_url)
    with running_stack(log_dir, "shared-admission", engine, daemon) as stack:
        hold_the_slot(f"http://{HOST}:{stack.daemon_port}")
        target = _target(stack, plan)
        post = {"op": "post", "target": target, "concurrency": plan.admission_concurrency}
        # The slot's task is running, not queued: the queue is full after exactly its capacity.
        admitted = loadgen.call(post | {"count": plan.shared_admission_tasks})
        flood = measured_flood(
            stack,
            loadgen,
            {
                "op": "post",
                "target": target,
                "concurrency": max(plan.flood_concurrency),
                "duration_s": plan.flood_s,
            },
        )
    tasks = plan.shared_admission_tasks
    return {
        "tasks": tasks,
        "concurrency": plan.admission_concurrency,
        "statuses": admitted["statuses"],
        "tasks_per_s": round(tasks / float(admitted["elapsed_s"]), 1),
        "latency_ms": latencies(admitted, "202"),
        "flood": flood,
    }


def run_shared(plan: Plan, loadgen: LoadGenerator, log_dir: Path, progress: Progress) -> dict[str, Any]:
    """The shared phase's figures."""
    with redis_server(log_dir / "redis") as server, contextlib.ExitStack() as stacks:
        running: dict[str, Stack] = {}
        for index, (name, workers, shared) in enumerate(SHARED_ARMS):
            daemon = DaemonSettings(workers=workers, redis_url=server.url if shared else None)
            running[name] = stacks.enter_context(
                running_stack(log_dir, f"shared-{index}", EngineSettings(wire=plan.wire), daemon)
            )
        progress("shared phase: embedded and Redis-backed stacks started")
        relay = _relay(plan, loadgen, running, progress)
        stacks.close()
        progress("shared phase: admission on Redis")
        admission = _admission(plan, loadgen, log_dir, server.url)
    progress("shared phase: bytes in Redis")
    bytes_in_redis = measure(plan.shared_bytes_queued, plan.shared_bytes_finished)
    return {
        "concurrency": plan.shared_concurrency,
        "relay": relay,
        "admission": admission,
        "bytes": {key: round(value) for key, value in bytes_in_redis.items()},
    }
