"""Benchmark of the pool queue: an enqueue + dequeue + cancel mix at a steady depth, many tenants.

Run `python bench/core_bench.py` (prints JSON) or import `run`. The queue is filled to `depth` tasks from
`tenants` tenants (20% batch, 10% with a deadline), then a repeating cycle enqueue, enqueue, dequeue,
cancel (of a random queued task) keeps the depth steady. Each operation is timed on its own with
`perf_counter_ns`; `ops_per_s` is operations over the time spent inside queue calls, `wall_ops_per_s`
includes the benchmark's own bookkeeping and timers. Target: >= 200,000 ops/s on one core at depth 10,000.
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from collections.abc import Callable

from orchestrator_core.queue import FullPolicy, PoolQueue, QueueConfig
from orchestrator_core.task import Priority, QueuedTask

TARGET_OPS_PER_S = 200_000


def _tasks(count: int, tenants: int, rng: random.Random) -> list[QueuedTask]:
    out = []
    for i in range(count):
        batch = rng.random() < 0.2
        out.append(
            QueuedTask(
                task_id=f"task-{i}",
                tenant=f"tenant-{rng.randrange(tenants)}",
                pool_id="bench",
                priority=Priority.BATCH if batch else Priority.INTERACTIVE,
                estimated_tokens=rng.randint(16, 512),
                enqueued_ms=float(i),
                deadline_at_ms=float(i) + 1e9 if rng.random() < 0.1 else None,
            )
        )
    return out


def _percentile(samples: list[int], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000.0


def run(depth: int = 10_000, tenants: int = 100, ops: int = 400_000, seed: int = 1) -> dict[str, object]:
    """Run the mix and return its figures (latencies in microseconds)."""
    rng = random.Random(seed)
    enqueues = ops // 2
    tasks = _tasks(depth + enqueues, tenants, rng)
    queue = PoolQueue("bench", QueueConfig(capacity=depth + enqueues, policy=FullPolicy.REJECT))
    queued: list[str] = []
    where: dict[str, int] = {}

    def forget(task_id: str) -> None:
        index = where.pop(task_id)
        last = queued.pop()
        if last != task_id:
            queued[index] = last
            where[last] = index

    for task in tasks[:depth]:
        queue.enqueue(task)
        where[task.task_id] = len(queued)
        queued.append(task.task_id)
    latencies: dict[str, list[int]] = {"enqueue": [], "dequeue": [], "cancel": []}
    clock: Callable[[], int] = time.perf_counter_ns
    next_task = depth
    gc.collect()
    wall_start = clock()
    done = 0
    while done < ops:
        for _ in range(2):
            task = tasks[next_task]
            next_task += 1
            t0 = clock()
            queue.enqueue(task)
            latencies["enqueue"].append(clock() - t0)
            where[task.task_id] = len(queued)
            queued.append(task.task_id)
        t0 = clock()
        out = queue.next_task(float(next_task))
        latencies["dequeue"].append(clock() - t0)
        if out.task is not None:
            forget(out.task.task_id)
        victim = queued[rng.randrange(len(queued))]
        t0 = clock()
        queue.cancel(victim)
        latencies["cancel"].append(clock() - t0)
        forget(victim)
        done += 4
    wall_ns = clock() - wall_start
    busy_ns = sum(sum(samples) for samples in latencies.values())
    per_op = {
        name: {
            "count": len(samples),
            "ops_per_s": round(len(samples) / (sum(samples) / 1e9)),
            "p50_us": _percentile(samples, 0.50),
            "p99_us": _percentile(samples, 0.99),
        }
        for name, samples in latencies.items()
    }
    return {
        "depth": depth,
        "final_depth": len(queue),
        "tenants": tenants,
        "ops": done,
        "ops_per_s": round(done / (busy_ns / 1e9)),
        "wall_ops_per_s": round(done / (wall_ns / 1e9)),
        "target_ops_per_s": TARGET_OPS_PER_S,
        "per_op": per_op,
        "python": sys.version.split()[0],
    }


def main() -> None:
    """Run at depth 10,000 (the target) and 1,000 (to show cost does not grow with depth); print JSON."""
    target, shallow = run(depth=10_000), run(depth=1_000)
    headline = target["ops_per_s"]
    meets_target = isinstance(headline, int) and headline >= TARGET_OPS_PER_S
    results = {"depth_10000": target, "depth_1000": shallow, "meets_target": meets_target}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
