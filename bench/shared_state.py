"""What the shared mode keeps in Redis (ORCH-4106): bytes per queued task and per retained transcript,
measured on a real redis-server in front of one orchestratord instance and one mock engine.

    python -m bench.shared_state [--queued 1000] [--finished 100]

Queued: one task holds the replica's only slot while `--queued` tasks wait behind it; the growth of
Redis' `used_memory` divided by their count is what one queued task costs (its record and its place in the
queue). Finished: `--finished` tasks of 256 tokens run to their end; the growth divided by their count is
what one retained task costs (its ended record and its transcript stream, kept for the retention).
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from test_harness.cluster import MODEL, Cluster, cluster
from test_harness.redis_server import redis_server

PROMPT = "Summarise the following support ticket in two sentences. " * 3  # ~170 bytes, a short chat turn
TOKENS = 256


def _used(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        info: dict[str, Any] = client.info("memory")
        return int(info["used_memory"])


def _admit(running: Cluster, count: int, max_tokens: int) -> list[str]:
    def some(share: int) -> list[str]:
        with running.http(0, timeout_s=30) as client:
            body = {"model_ref": MODEL, "prompt": PROMPT, "max_tokens": max_tokens}
            answers = [client.post("/v1/tasks", json=body) for _ in range(share)]
        assert all(answer.status_code == 202 for answer in answers), answers[-1].text
        return [str(answer.json()["task_id"]) for answer in answers]

    with ThreadPoolExecutor(4) as pool:
        shares = [count // 4 + (1 if i < count % 4 else 0) for i in range(4)]
        return [task_id for ids in pool.map(some, shares) for task_id in ids]


def _finish(running: Cluster, task_id: str) -> None:
    url = f"{running.urls[0]}/v1/tasks/{task_id}/stream"
    with httpx.stream("GET", url, timeout=60, trust_env=False) as response:
        for _ in response.iter_bytes():
            pass


def measure(queued: int, finished: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="orchqueue-bench-redis-") as work:
        with redis_server(Path(work)) as server:
            queues = {"defaults": {"capacity": queued + 10}}
            with cluster(server.url, instances=1, slots=1, token_delay_ms=1_000, queues=queues) as running:
                _admit(running, 1, 4_000)  # holds the only slot
                before = _used(server.url)
                _admit(running, queued, TOKENS)
                per_queued = (_used(server.url) - before) / queued
            with cluster(server.url, instances=1, slots=4, token_delay_ms=0) as running:
                before = _used(server.url)
                ids = _admit(running, finished, TOKENS)
                with ThreadPoolExecutor(4) as pool:
                    list(pool.map(lambda task_id: _finish(running, task_id), ids))
                per_finished = (_used(server.url) - before) / finished
    return {"bytes_per_queued_task": per_queued, "bytes_per_retained_task": per_finished, "tokens": TOKENS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=1_000)
    parser.add_argument("--finished", type=int, default=100)
    args = parser.parse_args()
    print(orjson.dumps(measure(args.queued, args.finished)).decode())


if __name__ == "__main__":
    main()
