"""Dispatch under replica failures: requeue before the first token, WORKER_RESET after it, DECODE_TIMEOUT."""

from __future__ import annotations

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon


@pytest.mark.req("ORCH-4002", "ORCH-4001")
async def test_failure_before_any_token_is_requeued_once_on_another_replica() -> None:
    # r0 has more free slots, so placement tries it first.
    replicas = [MockReplica("r0", faults=Faults(fail_at=0)), MockReplica("r1", slots=1)]
    async with running_daemon(replicas) as daemon:
        task_id = (await daemon.submit(max_tokens=5)).json()["task_id"]
        status = await daemon.wait_state(task_id, "succeeded", "failed")
        assert status["state"] == "succeeded"
        _, events = await read_stream(daemon.client, task_id)
        assert [e.event for e in events] == ["started"] + ["token"] * 5 + ["end"]
        assert events[0].data["replica_id"] == "r1"
        assert status["replay"]["replica_id"] == "r1"
        assert daemon.services.registry.get(task_id).attempts == ["r0"]
        assert daemon.free_slots() == daemon.total_slots()


@pytest.mark.req("ORCH-4002")
async def test_second_failure_before_tokens_ends_the_task_with_its_error() -> None:
    replicas = [MockReplica("r0", faults=Faults(fail_at=0)), MockReplica("r1", faults=Faults(fail_at=0))]
    async with running_daemon(replicas) as daemon:
        task_id = (await daemon.submit(max_tokens=5)).json()["task_id"]
        status = await daemon.wait_state(task_id, "failed")
        assert status["error"]["code"] == "WORKER_RESET"
        assert sorted(daemon.services.registry.get(task_id).attempts) == ["r0", "r1"]


@pytest.mark.req("ORCH-4002", "ORCH-1206")
async def test_failure_after_tokens_ends_the_stream_with_worker_reset() -> None:
    replicas = [MockReplica("r0", faults=Faults(fail_at=3)), MockReplica("r1")]
    async with running_daemon(replicas[:1]) as daemon:
        task_id = (await daemon.submit(max_tokens=10)).json()["task_id"]
        await daemon.wait_state(task_id, "failed")
        _, events = await read_stream(daemon.client, task_id)
        assert [e.event for e in events] == ["started", "token", "token", "token", "error"]
        error = events[-1].data
        assert error["code"] == "WORKER_RESET" and error["engine"] == "llamacpp"
        assert error["retriable"] is True
        assert daemon.free_slots() == daemon.total_slots()


@pytest.mark.req("ORCH-1206", "ORCH-4003")
async def test_engine_silence_ends_the_stream_with_decode_timeout() -> None:
    config = make_config(timeouts={"decode_idle_ms": 150})
    async with running_daemon([MockReplica(faults=Faults(stall_at=2))], config=config) as daemon:
        task_id = (await daemon.submit(max_tokens=10)).json()["task_id"]
        await daemon.wait_state(task_id, "failed")
        _, events = await read_stream(daemon.client, task_id)
        assert [e.event for e in events] == ["started", "token", "token", "error"]
        assert events[-1].data["code"] == "DECODE_TIMEOUT"
        assert daemon.free_slots() == daemon.total_slots()
        assert await daemon.engines["r0"].wait_idle(1.0)
