"""The SSE stream: order, framing, ids, resume, several readers, waiting for dispatch, heartbeats."""

from __future__ import annotations

import asyncio

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import Daemon, MockReplica, make_config, read_stream, running_daemon


@pytest.mark.req("ORCH-1010", "ORCH-1011", "ORCH-1012", "ORCH-1014", "ORCH-1021")
async def test_stream_is_started_tokens_end_with_ids_and_headers(daemon: Daemon) -> None:
    task_id = (await daemon.submit(max_tokens=6, seed=3)).json()["task_id"]
    response, events = await read_stream(daemon.client, task_id)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    kinds = [e.event for e in events]
    assert kinds == ["started"] + ["token"] * 6 + ["end"]
    started = events[0].data
    assert started["replica_id"] == "r0" and started["pool_id"] == "pool-a"
    assert started["seed"] == 3 and started["sampler_profile_version"] == "v1"
    assert started["engine"] == "llamacpp" and started["model_digest"].startswith("sha256:")
    tokens = events[1:-1]
    assert [t.data["i"] for t in tokens] == list(range(6))
    assert [t.id for t in tokens] == [str(i) for i in range(6)]
    assert events[-1].data == {
        "tokens_in": events[-1].data["tokens_in"],
        "tokens_out": 6,
        "decode_time_ms": events[-1].data["decode_time_ms"],
        "stop_reason": "max_tokens",
    }


@pytest.mark.req("ORCH-1010", "ORCH-1011")
async def test_verbose_stream_interleaves_metrics_events(daemon: Daemon) -> None:
    task_id = (await daemon.submit(max_tokens=4)).json()["task_id"]
    _, plain = await read_stream(daemon.client, task_id)
    _, verbose = await read_stream(daemon.client, task_id, verbose=True)
    assert "metrics" not in [e.event for e in plain]
    kinds = [e.event for e in verbose]
    assert kinds[0] == "started" and kinds[1] == "metrics" and kinds[-2:] == ["metrics", "end"]
    assert {"queue_depth", "kv_warmth", "on_time_probability"} <= verbose[1].data.keys()


@pytest.mark.req("ORCH-1012", "ORCH-1016")
async def test_last_event_id_resumes_after_that_token_with_started_again(daemon: Daemon) -> None:
    task_id = (await daemon.submit(max_tokens=8)).json()["task_id"]
    _, full = await read_stream(daemon.client, task_id)
    _, resumed = await read_stream(daemon.client, task_id, last_event_id="4")
    assert [e.event for e in resumed] == ["started", "token", "token", "token", "end"]
    assert [e.data["i"] for e in resumed if e.event == "token"] == [5, 6, 7]
    assert [e.data for e in resumed[1:]] == [e.data for e in full[6:]]
    bad = await daemon.client.get(f"/v1/tasks/{task_id}/stream", headers={"Last-Event-ID": "-1"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_PARAMS"


@pytest.mark.req("ORCH-1016")
async def test_transcript_expires_after_the_retention_time() -> None:
    config = make_config(streaming={"transcript_retention_ms": 0, "heartbeat_ms": 10_000})
    async with running_daemon(config=config) as daemon:
        task_id = (await daemon.submit(max_tokens=2)).json()["task_id"]
        await daemon.wait_state(task_id, "succeeded")
        daemon.services.registry.expire()
        assert (await daemon.client.get(f"/v1/tasks/{task_id}/stream")).status_code == 404


@pytest.mark.req("ORCH-1013")
async def test_two_readers_get_the_same_events_and_a_stream_opened_before_dispatch_waits() -> None:
    slow = [MockReplica(slots=1, faults=Faults(token_delay_ms=20))]
    async with running_daemon(slow) as daemon:
        blocker = (await daemon.submit(max_tokens=10)).json()["task_id"]
        await daemon.wait_state(blocker, "running")
        queued = (await daemon.submit(max_tokens=5)).json()["task_id"]
        assert (await daemon.client.get(f"/v1/tasks/{queued}")).json()["state"] == "queued"
        first, second = await asyncio.gather(
            read_stream(daemon.client, queued), read_stream(daemon.client, queued)
        )
        assert [e.data for e in first[1]] == [e.data for e in second[1]]
        assert [e.event for e in first[1]] == ["started"] + ["token"] * 5 + ["end"]


@pytest.mark.req("ORCH-1014")
async def test_heartbeat_comments_are_sent_while_no_event_is_due() -> None:
    config = make_config(streaming={"heartbeat_ms": 20})
    slow = [MockReplica(faults=Faults(ttft_ms=150))]
    async with running_daemon(slow, config=config) as daemon:
        task_id = (await daemon.submit(max_tokens=1)).json()["task_id"]
        response = await daemon.client.get(f"/v1/tasks/{task_id}/stream")
        assert ": ping" in response.text
        assert response.text.index(": ping") < response.text.index("event: started")
