"""A task that ends before it started delivers only its terminal event."""

from __future__ import annotations

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon

BUSY = [MockReplica(slots=1, faults=Faults(token_delay_ms=100))]


@pytest.mark.req("ORCH-1018")
async def test_a_canceled_queued_task_streams_only_end_canceled_with_zero_tokens() -> None:
    async with running_daemon(BUSY) as daemon:
        blocker = (await daemon.submit(max_tokens=50)).json()["task_id"]
        await daemon.wait_state(blocker, "running")
        queued = (await daemon.submit(max_tokens=5)).json()["task_id"]
        assert (await daemon.client.post(f"/v1/tasks/{queued}/cancel")).status_code == 204
        _, events = await read_stream(daemon.client, queued, verbose=True)
        assert [e.event for e in events] == ["end"]
        assert events[0].data["stop_reason"] == "canceled"
        assert events[0].data["tokens_out"] == 0


@pytest.mark.req("ORCH-1018")
async def test_an_evicted_queued_task_streams_only_its_error() -> None:
    config = make_config(queues={"defaults": {"capacity": 1, "policy": "drop-lru"}})
    async with running_daemon(BUSY, config=config) as daemon:
        blocker = (await daemon.submit(max_tokens=50)).json()["task_id"]
        await daemon.wait_state(blocker, "running")
        evicted = (await daemon.submit(max_tokens=5, priority="batch")).json()["task_id"]
        assert (await daemon.submit(max_tokens=5)).status_code == 202
        _, events = await read_stream(daemon.client, evicted, verbose=True)
        assert [e.event for e in events] == ["error"]
        assert events[0].data["code"] == "QUEUE_FULL_DROP_LRU"
