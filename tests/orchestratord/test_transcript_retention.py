"""Finished transcripts: a byte budget evicting the oldest first, 404 for an evicted one, and resumes within
retention that are byte-identical to the live stream."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from orchestratord.services.logs import EventLog
from orchestratord.services.metrics import DaemonMetrics
from orchestratord.services.task_registry import Admission, Retention, TaskRecord, TaskRegistry
from orchestratord.services.task_spec import TaskSpec, TaskState, queued_task
from orchestratord.services.transcript import encode_event, encode_token
from tests.orchestratord.orchd_harness import make_config, running_daemon
from tests.orchestratord.test_real_sockets import stack, submit

TOKENS = 40


def finished_record(task_id: str) -> TaskRecord:
    spec = TaskSpec(task_id=task_id, tenant="acme", model_ref="m", max_tokens=TOKENS)
    record = TaskRecord(
        spec,
        queued_task(spec, "pool-a", 0.0),
        seed=1,
        admission=Admission(task_id, 0, 0, 0, "pool-a"),
        admitted_at=0.0,
    )
    record.transcript.append(encode_event("started", {"replica_id": "r0"}))
    for index in range(TOKENS):
        record.transcript.append(encode_token(f" word{index}", index))
    record.transcript.append(encode_event("end", {"stop_reason": "max_tokens"}))
    record.state, record.ended_at = TaskState.SUCCEEDED, 0.0
    return record


def registry_holding(budget_transcripts: float) -> tuple[TaskRegistry, DaemonMetrics, int]:
    size = finished_record("probe").transcript.retained_bytes
    metrics = DaemonMetrics()
    retention = Retention(seconds=60.0, max_transcript_bytes=int(size * budget_transcripts))
    return TaskRegistry(lambda: 10.0, retention, metrics, EventLog()), metrics, size


def finish(registry: TaskRegistry, task_id: str) -> TaskRecord:
    record = finished_record(task_id)
    registry.add(record)
    registry.retain(record)
    return record


@pytest.mark.req("ORCH-1016", "ORCH-8001")
def test_over_the_budget_the_transcripts_that_ended_first_are_evicted_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry, metrics, size = registry_holding(2.5)
    first, second, third = (finish(registry, name) for name in ("t1", "t2", "t3"))
    fourth = finish(registry, "t4")
    assert [r.transcript.evicted for r in (first, second, third, fourth)] == [True, True, False, False]
    assert registry.retained_transcript_bytes == 2 * size
    assert metrics.registry.get_sample_value("orchd_transcripts_evicted_total") == 2.0
    assert metrics.registry.get_sample_value("orchd_transcript_retained_bytes") == 2 * size
    evicted = [r for r in caplog.records if r.getMessage() == "task.transcript_evicted"]
    assert [r.__dict__["task_id"] for r in evicted] == ["t1", "t2"]
    assert {r.levelno for r in evicted} == {logging.WARNING}
    # The records stay: status and idempotency answer until the retention ends.
    assert registry.get("t1").tokens_out == TOKENS


@pytest.mark.req("ORCH-1016")
async def test_a_transcript_being_read_is_skipped_and_evicted_once_its_reader_left() -> None:
    registry, _, size = registry_holding(2.5)
    oldest = finish(registry, "t1")
    reader = oldest.transcript.follow(0)
    await anext(reader)
    second, third = finish(registry, "t2"), finish(registry, "t3")
    assert [r.transcript.evicted for r in (oldest, second, third)] == [False, True, False]
    await reader.aclose()
    fourth = finish(registry, "t4")
    assert [r.transcript.evicted for r in (oldest, third, fourth)] == [True, False, False]
    assert registry.retained_transcript_bytes == 2 * size


@pytest.mark.req("ORCH-1016")
async def test_a_transcript_read_live_to_its_end_is_evicted_by_the_reaper_after_the_reader_left() -> None:
    registry, _, _ = registry_holding(0.01)
    record = finished_record("t1")
    live = TaskRecord(record.spec, record.queued, seed=1, admission=record.admission, admitted_at=0.0)
    registry.add(live)
    live.transcript.append(encode_event("started", {"replica_id": "r0"}))
    reader = live.transcript.follow()
    await anext(reader)
    live.transcript.append(encode_event("end", {"stop_reason": "eos"}))
    registry.retain(live)
    assert not live.transcript.evicted
    assert (await anext(reader)).startswith(b"event: end\n")
    await reader.aclose()
    registry.expire()  # the reaper's round evicts what a reader held back
    assert live.transcript.evicted and registry.retained_transcript_bytes == 0


@pytest.mark.req("ORCH-1016")
def test_expired_tasks_give_their_bytes_back_to_the_budget() -> None:
    now = [10.0]
    metrics = DaemonMetrics()
    registry = TaskRegistry(lambda: now[0], Retention(60.0, 1 << 20), metrics, EventLog())
    finish(registry, "t1")
    assert registry.retained_transcript_bytes > 0
    now[0] = 100.0
    assert registry.expire() == 1
    assert registry.retained_transcript_bytes == 0
    assert metrics.registry.get_sample_value("orchd_transcript_retained_bytes") == 0.0


@pytest.mark.req("ORCH-1016", "ORCH-1005")
async def test_resume_of_an_evicted_transcript_is_404_while_status_and_replay_still_answer() -> None:
    config = make_config(streaming={"transcript_retention_max_bytes": 1, "heartbeat_ms": 10_000})
    async with running_daemon(config=config) as daemon:
        body = {"task_id": "4b0c4c1e-5d6f-4e8a-9b1c-2d3e4f5a6b7c", "max_tokens": 4}
        admitted = (await daemon.submit(**body)).json()
        await daemon.wait_state(body["task_id"], "succeeded")
        for headers in ({"Last-Event-ID": "1"}, {}):
            gone = await daemon.client.get(f"/v1/tasks/{body['task_id']}/stream", headers=headers)
            assert gone.status_code == 404
            assert gone.json()["code"] == "NOT_FOUND" and "evicted" in gone.json()["message"]
        status = (await daemon.client.get(f"/v1/tasks/{body['task_id']}")).json()
        assert status["state"] == "succeeded" and status["tokens_out"] == 4
        again = await daemon.submit(**body)
        assert again.status_code == 202 and again.json() == admitted
        scrape = (await daemon.client.get("/metrics")).text
        assert "orchd_transcripts_evicted_total 1.0" in scrape


def frames_of(text: str) -> list[str]:
    return [frame + "\n\n" for frame in text.split("\n\n") if frame]


async def read_until_token(client: httpx.AsyncClient, task_id: str, index: int) -> str:
    """The raw stream up to and including token `index`, then the connection is dropped."""
    seen = ""
    async with client.stream("GET", f"/v1/tasks/{task_id}/stream") as response:
        async for text in response.aiter_text():
            seen += text
            marker = seen.find(f"id: {index}\n")
            if marker >= 0 and seen.find("\n\n", marker) >= 0:
                return seen[: seen.index("\n\n", marker) + 2]
    raise AssertionError(f"the stream ended before token {index}: {seen!r}")


@pytest.mark.req("ORCH-1012", "ORCH-1016", "ORCH-1017")
async def test_a_resumed_stream_is_byte_identical_to_the_live_one_during_and_after_the_run() -> None:
    async with stack() as (client, _, _):
        task_id = await submit(client, max_tokens=12)
        live_head = await read_until_token(client, task_id, 3)
        assert (await client.get(f"/v1/tasks/{task_id}")).json()["state"] == "running"
        during, full = await asyncio.gather(
            client.get(f"/v1/tasks/{task_id}/stream", headers={"Last-Event-ID": "3"}),
            client.get(f"/v1/tasks/{task_id}/stream"),
        )
        after = await client.get(f"/v1/tasks/{task_id}/stream", headers={"Last-Event-ID": "7"})
    started = frames_of(full.text)[0]
    assert started.startswith("event: started\n")
    assert full.text.startswith(live_head)
    assert during.text == started + full.text[len(live_head) :]
    after_token_7 = full.text.index("\n\n", full.text.index("id: 7\n")) + 2
    assert after.text == started + full.text[after_token_7:]
    kinds = [frame.split("\n")[0] for frame in frames_of(after.text)]
    assert kinds == ["event: started"] + ["event: token"] * 4 + ["event: end"]
