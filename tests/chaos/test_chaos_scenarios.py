"""Chaos scenarios on the full local stack with the mock engine (ORCH-9012): orchestratord and pool_managerd
as real processes on 127.0.0.1, engines started by pool_managerd, clients speaking HTTP and SSE only.

Each scenario breaks one thing (kills an engine or a daemon, drains, reloads, stalls, floods) and checks
what clients see: a typed terminal event or a clean error, never a hang, never a stream cut or mixed; and
that no process outlives the scenario. Each is bounded in requests and seconds.
"""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from test_harness.chaos.stack import NodePlan
from test_harness.chaos.streams import follow
from tests.chaos.chaos_support import (
    admitted,
    busy_replica,
    chaos_stack,
    eventually,
    kill_replica,
    rss_bytes,
    running_replica,
    status,
    submit,
)
from tools.openapi_client import Client, OrchestratordUnreachable

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
TERMINAL_STATES = {"succeeded", "failed", "canceled"}


def identity(started: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        started["engine"],
        started["engine_version"],
        started["model_digest"],
        started["sampler_profile_version"],
    )


@pytest.mark.req("ORCH-9012", "ORCH-4002", "ORCH-1206", "ORCH-9019")
def test_engine_killed_mid_stream_ends_the_stream_with_worker_reset() -> None:
    with chaos_stack([NodePlan("node-a", ["pool-a"], replicas=1, token_delay_ms=50)]) as stack:
        task_id = admitted(stack, max_tokens=200)
        killed: list[int] = []

        def kill_after_three(tokens: int) -> None:
            if tokens == 3 and not killed:
                killed.append(kill_replica(stack, "pool-a", running_replica(stack, task_id)))

        seen = follow(stack.url, task_id, timeout_s=15, on_token=kill_after_three)
        assert killed, "the engine was never killed"
        assert seen.transport_error is None and seen.terminal_count == 1
        event, data = seen.terminal or ("", {})
        assert (event, data["code"], data["retriable"]) == ("error", "WORKER_RESET", True)
        assert 3 <= len(seen.named("token")) < 200
        assert status(stack, task_id)["state"] == "failed"


@pytest.mark.req("ORCH-9012", "ORCH-4002", "ORCH-1011")
def test_engine_killed_before_the_first_token_requeues_the_task_transparently() -> None:
    with chaos_stack([NodePlan("node-a", ["pool-a"], replicas=2)]) as stack:
        stack.set_faults("pool-a", ttft_ms=1_500)
        task_id = admitted(stack, max_tokens=5)
        first = busy_replica(stack, "pool-a")
        kill_replica(stack, "pool-a", first)
        seen = follow(stack.url, task_id, timeout_s=15)
        assert seen.transport_error is None and [e for e, _ in seen.events if e != "token"] == [
            "started",
            "end",
        ]
        assert seen.named("started")[0]["replica_id"] != first
        assert seen.named("end")[0]["stop_reason"] == "max_tokens" and len(seen.named("token")) == 5


@pytest.mark.req("ORCH-9012", "ORCH-1114", "ORCH-1205", "ORCH-1102", "ORCH-9019")
def test_killed_pool_managerd_leaves_its_pool_unready_and_tasks_go_elsewhere_or_503() -> None:
    plans = [NodePlan("node-a", ["pool-a"], replicas=1), NodePlan("node-b", ["pool-b"], replicas=1)]
    with chaos_stack(plans) as stack:
        stack.kill(stack.nodes["node-a"])

        def pool_ready(pool_id: str) -> bool:
            with stack.http() as client:
                pools = client.get("/v1/pools").json()["pools"]
            return next(p for p in pools if p["pool_id"] == pool_id)["ready"]

        # Lease: 3 heartbeats of 500 ms, checked every 500 ms at most (ORCH-1114).
        eventually("pool-a is unready after the lease", lambda: not pool_ready("pool-a"), 5.0)
        for _ in range(3):
            seen = follow(stack.url, admitted(stack, max_tokens=4), timeout_s=10)
            assert seen.named("started")[0]["pool_id"] == "pool-b" and seen.terminal[0] == "end"  # type: ignore[index]
        with stack.http() as client:
            health = client.get("/v1/pools/pool-a/health")
        assert health.status_code == 503 and health.json()["code"] == "POOL_UNAVAILABLE"

        stack.kill(stack.nodes["node-b"])
        eventually("pool-b is unready after the lease", lambda: not pool_ready("pool-b"), 5.0)
        refused = submit(stack, max_tokens=4)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] in {"POOL_UNREADY", "POOL_UNAVAILABLE"} and refused.json()["retriable"]


@pytest.mark.req("ORCH-9012", "ORCH-6011", "ORCH-1103")
def test_drain_under_load_cuts_no_stream_in_flight() -> None:
    plans = [NodePlan("node-a", ["pool-a", "pool-b"], replicas=2, token_delay_ms=40)]
    with chaos_stack(plans) as stack, ThreadPoolExecutor(4) as pool:
        pinned = {"mode": "pin", "pin_pool_id": "pool-a"}
        in_flight = [admitted(stack, max_tokens=50, placement=pinned) for _ in range(2)]
        readers = [pool.submit(follow, stack.url, task_id, timeout_s=20) for task_id in in_flight]
        eventually("both tasks run", lambda: all(status(stack, t)["tokens_out"] > 0 for t in in_flight))
        with stack.http(10) as client:
            drained = client.post("/v1/pools/pool-a/drain", json={"deadline_ms": 10_000})
        assert drained.status_code == 202, drained.text
        after = [follow(stack.url, admitted(stack, max_tokens=4), timeout_s=10) for _ in range(2)]
        assert {seen.named("started")[0]["pool_id"] for seen in after} == {"pool-b"}
        for reader in readers:
            seen = reader.result()
            assert seen.transport_error is None and seen.terminal is not None
            assert seen.terminal[0] == "end" and seen.terminal[1]["stop_reason"] == "max_tokens"
            assert len(seen.named("token")) == 50


@pytest.mark.req("ORCH-9012", "ORCH-6012", "ORCH-3004", "ORCH-3010", "ORCH-1104")
def test_reload_under_load_never_mixes_identities_in_a_stream_or_session() -> None:
    plans = [NodePlan("node-a", ["pool-a"], replicas=1, token_delay_ms=40)]
    with chaos_stack(plans) as stack, ThreadPoolExecutor(4) as pool:
        session = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
        turn_one = follow(stack.url, admitted(stack, max_tokens=3, session_id=session))
        old = identity(turn_one.named("started")[0])
        in_flight = admitted(stack, max_tokens=60)
        reader = pool.submit(follow, stack.url, in_flight, timeout_s=30)
        eventually("the task runs", lambda: status(stack, in_flight)["tokens_out"] > 0)
        with stack.http(30) as client:
            reloaded = client.post("/v1/pools/pool-a/reload", json={"new_model_ref": str(stack.model_b)})
        assert reloaded.status_code == 200, reloaded.text
        new_digest = reloaded.json()["model_digest"]
        assert new_digest != old[2]

        seen = reader.result()
        assert seen.terminal is not None and seen.terminal[0] == "end", seen.events[-1:]
        assert [identity(s) for s in seen.named("started")] == [old]
        replay = status(stack, in_flight)["replay"]
        assert replay["model_digest"] == old[2]

        new_model = str(stack.model_b)
        fresh = follow(stack.url, admitted(stack, max_tokens=3, model_ref=new_model))
        assert fresh.named("started")[0]["model_digest"] == new_digest
        # Once the old set is gone its identity is retired: the session's next turn must not silently run
        # on the new model (ORCH-3004) and is refused with CONFLICT (ORCH-3010).
        eventually(
            "the old replica set is gone",
            lambda: {r["model_digest"] for r in stack.pool_health("pool-a")["replicas"]} == {new_digest},
        )
        turn_two = submit(stack, max_tokens=3, session_id=session, model_ref=new_model)
        if turn_two.status_code == 202:
            later = follow(stack.url, turn_two.json()["task_id"])
            assert all(identity(s) == old for s in later.named("started")), "session moved to new model"
        else:
            assert turn_two.status_code == 409 and turn_two.json()["code"] == "CONFLICT", turn_two.text


@pytest.mark.req("ORCH-9012", "ORCH-6013", "ORCH-1111", "ORCH-9019")
def test_orchestratord_restart_gives_clean_errors_and_nodes_register_again() -> None:
    plans = [NodePlan("node-a", ["pool-a"], replicas=1, token_delay_ms=50)]
    with chaos_stack(plans) as stack:
        task_id = admitted(stack, max_tokens=200)

        def kill_after_three(tokens: int) -> None:
            if tokens == 3 and stack.orchestratord.alive():
                stack.kill(stack.orchestratord)

        seen = follow(stack.url, task_id, timeout_s=10, on_token=kill_after_three)
        assert seen.transport_error is not None and "Timeout" not in seen.transport_error
        assert seen.seconds < 5
        sdk = Client(stack.url, api_key="")
        with pytest.raises(OrchestratordUnreachable):
            sdk.status(task_id)

        stack.start(stack.orchestratord)
        stack.wait_ready(1, timeout_s=15)
        forgotten = httpx.get(f"{stack.url}/v1/tasks/{task_id}", timeout=5)
        assert forgotten.status_code == 404 and forgotten.json()["code"] == "NOT_FOUND"
        again = follow(stack.url, admitted(stack, max_tokens=4))
        assert again.terminal is not None and again.terminal[0] == "end"
        sdk.close()


@pytest.mark.req("ORCH-9012", "ORCH-4005", "ORCH-1206", "ORCH-4003")
def test_engine_stall_ends_the_stream_with_decode_timeout() -> None:
    plans = [NodePlan("node-a", ["pool-a"], replicas=1)]
    with chaos_stack(plans, timeouts={"decode_idle_ms": 1_000}) as stack:
        stack.set_faults("pool-a", stall_at=3)
        task_id = admitted(stack, max_tokens=20)
        seen = follow(stack.url, task_id, timeout_s=10)
        assert seen.transport_error is None and len(seen.named("token")) == 3
        event, data = seen.terminal or ("", {})
        assert (event, data["code"]) == ("error", "DECODE_TIMEOUT")
        assert seen.seconds < 5 and status(stack, task_id)["state"] == "failed"
        stack.set_faults("pool-a")
        after = follow(stack.url, admitted(stack, max_tokens=4), timeout_s=10)  # the slot came back
        assert after.terminal is not None and after.terminal[0] == "end"


FLOOD = 150
FLOOD_CONCURRENCY = 30
CAPACITY = 16


async def _flood(url: str, model_ref: str) -> list[httpx.Response]:
    limit = asyncio.Semaphore(FLOOD_CONCURRENCY)
    body = {"model_ref": model_ref, "prompt": "flood", "max_tokens": 6}
    async with httpx.AsyncClient(base_url=url, timeout=10, trust_env=False) as client:

        async def one() -> httpx.Response:
            async with limit:
                return await client.post("/v1/tasks", json=body)

        return await asyncio.gather(*(one() for _ in range(FLOOD)))


@pytest.mark.req("ORCH-9012", "ORCH-2003", "ORCH-1204", "ORCH-2009", "ORCH-2001")
def test_queue_flood_rejects_with_retry_after_and_every_admitted_task_ends_once() -> None:
    plans = [NodePlan("node-a", ["pool-a"], replicas=2, token_delay_ms=30)]
    with chaos_stack(plans, queues={"defaults": {"capacity": CAPACITY}}) as stack:
        orchd = stack.orchestratord.pid
        rss_before = rss_bytes(orchd)
        responses = asyncio.run(_flood(stack.url, str(stack.model_a)))
        codes = [r.status_code for r in responses]
        assert set(codes) <= {202, 429} and codes.count(429) > 0 and codes.count(202) >= CAPACITY
        for refused in (r for r in responses if r.status_code == 429):
            envelope = refused.json()
            retry_after = int(refused.headers["Retry-After"])
            assert envelope["code"] == "ADMISSION_REJECT" and envelope["policy_label"] == "reject"
            assert retry_after >= 1 and retry_after == math.ceil(envelope["retry_after_ms"] / 1000)
            assert int(refused.headers["X-Backoff-Ms"]) == envelope["retry_after_ms"]
        assert rss_bytes(orchd) - rss_before < 64 * 2**20

        task_ids = [str(r.json()["task_id"]) for r in responses if r.status_code == 202]
        assert len(set(task_ids)) == len(task_ids)
        with ThreadPoolExecutor(8) as pool:
            streams = list(pool.map(lambda t: follow(stack.url, t, timeout_s=30), task_ids))
        terminal_events = sum(seen.terminal_count for seen in streams)
        assert [seen.terminal_count for seen in streams] == [1] * len(task_ids)
        assert terminal_events == len(task_ids)
        assert all(status(stack, t)["state"] in TERMINAL_STATES for t in task_ids)
