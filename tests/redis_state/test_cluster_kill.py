"""An instance that dies or is cut off loses nothing the others can carry on, with real processes: SIGKILL
of one of three instances while 300 tasks are queued and 30 run, and one instance cut off from Redis only
(ORCH-4112, ORCH-4110)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from orchestratord.redis_state.codec import decode_chunk
from test_harness.cluster import MODEL, Cluster, cluster
from tests.redis_state.test_cluster import (
    admitted,
    read_events,
    started_here,
    status,
    stream_events,
    tokens,
    wait_for,
)
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(240)]
TTL_S = 1.5  # the cluster's lease_ttl_ms
LONG, SHORT = 800, 10  # tokens, 20 ms apart


def whole_stream(
    running: Cluster,
    index: int,
    task_id: str,
    last_event_id: int | None = None,
    events: list[tuple[str, Any]] | None = None,
) -> list[Any]:
    """Every event of the task's stream through instance `index`, read until the server closes it."""
    return stream_events(running, index, task_id, last_event_id, events=events)


def engine_load(running: Cluster) -> int:
    total = 0
    for engine in running.engines:
        stats = httpx.get(f"{engine.url}/admin/stats", trust_env=False, timeout=5).json()
        total += stats["running"] + stats["queued"]
    return int(total)


@pytest.fixture
def three(redis_process: RedisServer) -> Iterator[Cluster]:
    with cluster(
        redis_process.url,
        instances=3,
        engines=2,
        slots=15,
        token_delay_ms=20,
        queues={"defaults": {"capacity": 400}},
    ) as running:
        yield running


def queued_in_redis(running: Cluster, redis_url: str) -> int:
    prefix = running.config["state"]["key_prefix"]
    with redis.Redis.from_url(redis_url) as client:
        return int(client.hlen(f"{prefix}:queue:{{pool-a}}:tasks"))  # the queue's task hash (queue.lua)


@pytest.mark.req("ORCH-4112")
def test_killing_one_of_three_instances_while_300_tasks_queue_and_30_run_loses_none(
    three: Cluster, redis_process: RedisServer
) -> None:
    # 30 long tasks take every slot; 300 short ones queue behind them.
    def admit_through(index: int, count: int, max_tokens: int) -> list[str]:
        with three.http(index) as client:
            body = {"model_ref": MODEL, "prompt": "kill", "max_tokens": max_tokens}
            answers = [client.post("/v1/tasks", json=body) for _ in range(count)]
        assert all(answer.status_code == 202 for answer in answers)
        return [str(answer.json()["task_id"]) for answer in answers]

    with ThreadPoolExecutor(3) as pool:
        long = [t for ids in pool.map(lambda i: admit_through(i, 10, LONG), range(3)) for t in ids]
        wait_for(lambda: engine_load(three) == 30, timeout_s=20)
        short = [t for ids in pool.map(lambda i: admit_through(i, 100, SHORT), range(3)) for t in ids]
    ids = long + short
    assert queued_in_redis(three, redis_process.url) == 300
    assert engine_load(three) == 30 and started_here(three, 0) & set(long)
    three.instances[0].kill()
    killed_at = time.monotonic()
    ran_on_dead = started_here(three, 0)
    # The dead instance's 15-odd slots are free again within the TTL: the survivors fill all 30.
    wait_for(lambda: engine_load(three) == 30 and time.monotonic() - killed_at > TTL_S, timeout_s=4 * TTL_S)

    def outcome(pair: tuple[int, str]) -> tuple[str, list[Any]]:
        index, task_id = pair
        return task_id, whole_stream(three, 1 + index % 2, task_id)

    with ThreadPoolExecutor(8) as pool:
        streams = dict(pool.map(outcome, enumerate(ids)))
    reset: list[str] = []
    for task_id, events in streams.items():
        terminal = [(kind, data) for kind, data in events if kind in ("end", "error")]
        assert len(terminal) == 1 and events[-1] == terminal[0], (task_id, events[-3:])
        kind, data = terminal[0]
        if kind == "error":
            assert data["code"] == "WORKER_RESET" and data["retriable"] is True, data
            assert task_id in ran_on_dead, f"{task_id} failed but ran on a survivor"
            reset.append(task_id)
        else:
            assert data["stop_reason"] == "max_tokens", data
            assert len(tokens(events)) == (LONG if task_id in long else SHORT)
    assert 0 < len(reset) <= 15, reset
    # A reader of a reset task that reconnects to a survivor with Last-Event-ID gets what is left.
    events = streams[reset[0]]
    resumed = whole_stream(three, 2, reset[0], last_event_id=tokens(events)[len(tokens(events)) // 2][0])
    assert resumed[-1] == events[-1] and tokens(resumed) == tokens(events)[len(tokens(events)) // 2 + 1 :]
    # Nothing stays running, nothing holds a slot.
    assert {status(three, 1, task_id)["state"] for task_id in ids} <= {"succeeded", "failed"}
    assert engine_load(three) == 0
    short = admitted(three, 2, max_tokens=3)
    assert read_events(three, 1, short)[-1][0] == "end"


def outcomes_in_redis(running: Cluster, redis_url: str, task_id: str) -> int:
    """How many entries of the task's stream in Redis carry a terminal event."""
    prefix = running.config["state"]["key_prefix"]
    with redis.Redis.from_url(redis_url) as client:
        entries = client.xrange(f"{prefix}:stream:{{{task_id}}}")
    return sum(decode_chunk(fields).outcome is not None for _, fields in entries)


@pytest.mark.req("ORCH-4112", "ORCH-4110")
def test_an_instance_cut_off_from_redis_stops_its_run_and_never_relays_a_task_another_took(
    redis_process: RedisServer,
) -> None:
    with cluster(
        redis_process.url, instances=2, engines=1, slots=1, token_delay_ms=20, proxied=True
    ) as running:
        long = admitted(running, 0, max_tokens=1_000)
        wait_for(lambda: long in started_here(running, 0) | started_here(running, 1))
        cut = 0 if long in started_here(running, 0) else 1
        other = 1 - cut
        local: list[Any] = []
        reader = threading.Thread(target=lambda: whole_stream(running, cut, long, events=local))
        reader.start()
        wait_for(lambda: len(tokens(local)) >= 5)
        proxy = running.proxies[cut].process
        assert proxy is not None
        os.killpg(proxy.pid, signal.SIGSTOP)  # the instance's link to Redis goes silent
        try:
            # Its readers hear WORKER_RESET once its lease has lapsed on its own clock.
            reader.join(timeout=4 * TTL_S)
            assert not reader.is_alive() and local[-1][0] == "error", local[-2:]
            assert local[-1][1]["code"] == "WORKER_RESET"
            # The other instance reaps the run and ends it for every reader; the slot is its to use.
            wait_for(lambda: status(running, other, long)["state"] == "failed", timeout_s=4 * TTL_S)
            seen = whole_stream(running, other, long)
            assert seen[-1][0] == "error" and seen[-1][1]["code"] == "WORKER_RESET", seen[-1]
            after = admitted(running, other, max_tokens=30)
            assert engine_load(running) <= 1
            done = whole_stream(running, other, after)
            assert done[-1][0] == "end" and len(tokens(done)) == 30
            assert after in started_here(running, other)
        finally:
            os.killpg(proxy.pid, signal.SIGCONT)
        # Back in touch, its late writes are fenced: the stream in Redis keeps the one ending.
        time.sleep(3 * TTL_S)
        assert status(running, other, long)["state"] == "failed"
        assert outcomes_in_redis(running, redis_process.url, long) == 1
        assert after not in started_here(running, cut)
        fresh = admitted(running, cut, max_tokens=5)
        assert whole_stream(running, cut, fresh)[-1][0] == "end"
