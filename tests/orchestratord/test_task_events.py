"""What a task's terminal events carry, whichever protocol reads them, and who counts as a reader
(ORCH-1206, ORCH-1204, ORCH-2004, ORCH-4002, ORCH-1015)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from contracts.api_types.data import ErrorEvent
from mock_engine.faults import Faults
from orchestrator_core.errors import WorkerReset
from tests.orchestratord.orchd_harness import (
    MODEL,
    Daemon,
    MockReplica,
    eventually,
    make_config,
    read_stream,
    running_daemon,
)

BUSY = [MockReplica(slots=1, faults=Faults(token_delay_ms=100))]
DROP_LRU = {"defaults": {"capacity": 2, "policy": "drop-lru"}}


def backpressure_events(daemon: Daemon, policy_label: str) -> float:
    for metric in daemon.services.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == "orchd_admission_backpressure_events_total" and (
                sample.labels.get("policy_label") == policy_label
            ):
                return sample.value
    return 0.0


async def full_queue(daemon: Daemon) -> tuple[str, list[str]]:
    """One task running on the only slot and two batch tasks filling the queue."""
    running = (await daemon.submit(max_tokens=50)).json()["task_id"]
    await daemon.wait_state(running, "running")
    queued = [(await daemon.submit(max_tokens=50, priority="batch")).json()["task_id"] for _ in range(2)]
    return running, queued


@pytest.mark.req("ORCH-1206", "ORCH-1204", "ORCH-2004")
async def test_an_evicted_task_ends_with_a_contract_error_event_naming_its_policy() -> None:
    async with running_daemon(BUSY, config=make_config(queues=DROP_LRU)) as daemon:
        running, (victim, _) = await full_queue(daemon)
        assert (await daemon.submit(max_tokens=5)).status_code == 202

        _, events = await read_stream(daemon.client, victim)
        error = ErrorEvent.model_validate(events[0].data)  # every required field, null or not
        assert (error.code, error.policy_label, error.engine) == ("QUEUE_FULL_DROP_LRU", "drop-lru", None)
        assert error.retry_after_ms is not None and error.retry_after_ms > 0
        await daemon.client.post(f"/v1/tasks/{running}/cancel")


@pytest.mark.req("ORCH-4002", "ORCH-2004")
async def test_a_requeue_into_a_full_queue_ends_its_victim_as_an_arrival_would() -> None:
    async with running_daemon(BUSY, config=make_config(queues=DROP_LRU)) as daemon:
        running, (victim, kept) = await full_queue(daemon)
        before = backpressure_events(daemon, "drop-lru")
        record = daemon.services.registry.get(running)

        assert await daemon.services.requeuer.requeue(record, "r0", WorkerReset("dropped before any token"))

        queue = daemon.services.queues.get("pool-a")
        assert await queue.get(running) is not None and await queue.get(kept) is not None
        assert await queue.get(victim) is None
        assert backpressure_events(daemon, "drop-lru") == before + 1
        _, events = await read_stream(daemon.client, victim)
        assert events[0].data["code"] == "QUEUE_FULL_DROP_LRU"
        assert events[0].data["retry_after_ms"] is not None
        assert events[0].data["policy_label"] == "drop-lru"
        await daemon.client.post(f"/v1/tasks/{running}/cancel")


@pytest.mark.req("ORCH-1206", "ORCH-1064")
async def test_an_openai_stream_that_is_evicted_carries_the_policy_label_of_the_event() -> None:
    async with running_daemon(BUSY, config=make_config(queues=DROP_LRU)) as daemon:
        running = (await daemon.submit(max_tokens=50)).json()["task_id"]
        await daemon.wait_state(running, "running")
        body = {"model": MODEL, "prompt": "hi", "max_tokens": 5, "stream": True}
        headers = {"X-Orch-Priority": "batch"}
        answer = asyncio.ensure_future(daemon.client.post("/v1/completions", json=body, headers=headers))
        await eventually(lambda: len(daemon.services.queues.get("pool-a")) == 1)
        await daemon.submit(max_tokens=5, priority="batch")
        assert (await daemon.submit(max_tokens=5)).status_code == 202  # evicts the OpenAI task
        text = (await answer).text
        chunks = [orjson.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: {")]
        error = chunks[-1]["error"]
        assert (error["code"], error["policy_label"]) == ("queue_full_drop_lru", "drop-lru")
        assert "[DONE]" not in text
        await daemon.client.post(f"/v1/tasks/{running}/cancel")


@pytest.mark.req("ORCH-1015", "ORCH-1065")
async def test_a_waiting_openai_answer_keeps_its_task_when_another_reader_of_it_leaves() -> None:
    config = make_config(streaming={"heartbeat_ms": 10_000, "disconnect_grace_ms": 50})
    replicas = [MockReplica(slots=1, faults=Faults(token_delay_ms=20))]
    async with running_daemon(replicas, config=config) as daemon:
        body = {"model": MODEL, "prompt": "hi", "max_tokens": 20}
        answer = asyncio.ensure_future(daemon.client.post("/v1/completions", json=body))
        await eventually(lambda: len(daemon.services.registry.active()) == 1)
        (record,) = daemon.services.registry.active()
        stream = daemon.services.tasks.follow(record)  # the native stream's reader, as its route runs it
        await anext(stream)
        await stream.aclose()  # it leaves after its first frames
        await asyncio.sleep(0.2)  # well past the disconnect grace

        completion = (await answer).json()
        assert completion["choices"][0]["finish_reason"] == "length"
        assert completion["usage"]["completion_tokens"] == 20
