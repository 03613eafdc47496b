"""The admission phase: tasks/s of `POST /v1/tasks` while nothing is dispatched, memory per queued task,
and the latency of a 429 once the queue is full.

orchestratord has no switch to pause its dispatcher, so the phase makes the dispatcher idle the way
production does: the pool's only replica has one slot, and that slot is held by a task the mock engine
never answers (time to first token of 10 minutes). Every later task is admitted through the full path
(validation, quotas, placement finding the replica busy, prediction, enqueue) and stays queued. The queue
holds exactly the warm-up plus the measured tasks, so after them every POST meets a full queue (policy
`reject`, 429).

The flood is measured twice. Closed loop (each connection sends its next request when the previous answer
arrives) gives the 429 capacity: at saturation its latency is Little's law, connections / throughput, so
it is reported as a throughput figure. Open loop (requests paced at fixed offered rates over the
connections, latency from each request's scheduled send time) gives the latency a 429 has under a
flood arriving at that rate; ORCH-9206 is judged there, at `Plan.flood_judged_rate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.arms import PROMPT
from bench.plan import Plan
from bench.stack import (
    HOST,
    MODEL_REF,
    DaemonSettings,
    EngineSettings,
    LoadGenerator,
    Stack,
    running_stack,
)
from bench.stats import percentile, rounded

Progress = Callable[[str], None]
NEVER_MS = 600_000.0


def hold_the_slot(base_url: str) -> str:
    """Submits the task that keeps the replica's only slot busy; returns its id once it is running."""
    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        answer = client.post("/v1/tasks", json={"model_ref": MODEL_REF, "prompt": PROMPT, "max_tokens": 8})
        answer.raise_for_status()
        task_id = str(answer.json()["task_id"])
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if client.get(f"/v1/tasks/{task_id}").json()["state"] == "running":
                return task_id
            time.sleep(0.02)
    raise RuntimeError(f"the slot-holding task {task_id} never started")


def latencies(answer: dict[str, Any], status: str) -> dict[str, float | None]:
    samples = answer["latency_ms"].get(status, [])
    return {
        "p50": rounded(percentile(samples, 0.50)),
        "p99": rounded(percentile(samples, 0.99)),
        "max": rounded(max(samples) if samples else None),
    }


def run_admission(plan: Plan, loadgen: LoadGenerator, log_dir: Path, progress: Progress) -> dict[str, Any]:
    engine = EngineSettings(wire=plan.wire, slots=1, ttft_ms=NEVER_MS)
    capacity = plan.admission_warmup + plan.admission_tasks
    daemon = DaemonSettings(replica_slots=1, queue_capacity=capacity)
    with running_stack(log_dir, "admission", engine, daemon) as stack:
        target = {
            "arm": "v1",
            "host": HOST,
            "port": stack.daemon_port,
            "max_tokens": plan.max_tokens,
            "model": MODEL_REF,
        }
        hold_the_slot(f"http://{HOST}:{stack.daemon_port}")
        post = {"op": "post", "target": target, "concurrency": plan.admission_concurrency}
        loadgen.call(post | {"count": plan.admission_warmup})
        before = stack.daemon.sample()
        admitted = loadgen.call(post | {"count": plan.admission_tasks})
        after = stack.daemon.sample()
        accepted = int(admitted["statuses"].get("202", 0))
        rate = plan.admission_tasks / float(admitted["elapsed_s"])
        progress(f"admission: {rate:.0f} tasks/s, statuses {admitted['statuses']}")
        floods = {}
        for connections in plan.flood_concurrency:
            command = {"op": "post", "target": target, "concurrency": connections, "duration_s": plan.flood_s}
            floods[connections] = measured_flood(stack, loadgen, command)
            progress(f"closed-loop flood from {connections} connections: {floods[connections]}")
        capacity_rate = floods[max(floods)]["requests_per_s"]
        open_floods = {}
        for rate in _open_loop_rates(plan, capacity_rate):
            command = {
                "op": "paced_post",
                "target": target,
                "concurrency": plan.flood_open_concurrency,
                "rate": rate,
                "duration_s": plan.flood_open_s,
            }
            open_floods[rate] = measured_flood(stack, loadgen, command)
            progress(f"open-loop flood at {rate:g}/s: {open_floods[rate]}")
        after_flood = stack.daemon.sample()
    growth = after.rss_bytes - before.rss_bytes
    return {
        "method": "one replica with one slot, held by a task whose first token never comes",
        "admission": {
            "tasks": plan.admission_tasks,
            "concurrency": plan.admission_concurrency,
            "statuses": admitted["statuses"],
            "elapsed_s": round(float(admitted["elapsed_s"]), 3),
            "tasks_per_s": round(rate, 1),
            "latency_ms": latencies(admitted, "202"),
            "cpu_s_per_task": rounded((after.cpu_s - before.cpu_s) / plan.admission_tasks, 6),
        },
        "memory": {
            "queued_tasks": accepted,
            "rss_before_mib": round(before.rss_bytes / 2**20, 1),
            "rss_after_mib": round(after.rss_bytes / 2**20, 1),
            "bytes_per_queued_task": round(growth / accepted) if accepted else None,
        },
        # The target is judged on the open-loop flood at the judged rate.
        "flood": open_floods[plan.flood_judged_rate]
        | {"queue_capacity": capacity, "rss_after_mib": round(after_flood.rss_bytes / 2**20, 1)},
        # Closed loop: capacity (the largest connection count) and a 429's own cost (one connection).
        "flood_by_connections": {str(c): summary for c, summary in floods.items()},
        "flood_open_loop": {f"{rate:g}": summary for rate, summary in open_floods.items()},
    }


def _open_loop_rates(plan: Plan, capacity_rate: float) -> list[float]:
    """The plan's fixed rates and the judged one, plus a round rate just below the closed-loop capacity."""
    near_capacity = float(max(100, int(capacity_rate * plan.flood_capacity_fraction) // 100 * 100))
    return sorted({*plan.flood_rates, plan.flood_judged_rate, near_capacity})


def measured_flood(stack: Stack, loadgen: LoadGenerator, command: dict[str, Any]) -> dict[str, Any]:
    before = stack.daemon.sample()
    answer = loadgen.call(command)
    after = stack.daemon.sample()
    summary = _flood_summary(answer, int(command["concurrency"]))
    summary["cpu_ms_per_request"] = rounded((after.cpu_s - before.cpu_s) * 1000 / summary["requests"], 4)
    return summary


def _flood_summary(answer: dict[str, Any], connections: int) -> dict[str, Any]:
    requests = sum(int(n) for n in answer["statuses"].values())
    elapsed = float(answer["elapsed_s"])
    summary: dict[str, Any] = {
        "loop": "closed",
        "concurrency": connections,
        "requests": requests,
        "statuses": answer["statuses"],
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 1),
        "latency_429_ms": latencies(answer, "429"),
    }
    if "offered_per_s" in answer:
        lags = answer["send_lag_ms"]
        summary["loop"] = "open"
        summary["offered_per_s"] = answer["offered_per_s"]
        summary["send_lag_ms"] = {
            "p50": rounded(percentile(lags, 0.50)),
            "p99": rounded(percentile(lags, 0.99)),
        }
    return summary
