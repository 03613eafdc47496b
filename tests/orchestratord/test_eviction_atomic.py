"""An eviction happens within the admission that causes it: by the time the newcomer's 202 is answered the
victim has ended with its terminal event and the queue never held more than its capacity (ORCH-2011)."""

from __future__ import annotations

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon

BUSY = [MockReplica(slots=1, faults=Faults(token_delay_ms=100))]


@pytest.mark.req("ORCH-2011")
async def test_the_victim_is_terminal_when_the_newcomer_is_admitted() -> None:
    config = make_config(queues={"defaults": {"capacity": 2, "policy": "drop-lru"}})
    async with running_daemon(BUSY, config=config) as daemon:
        running = (await daemon.submit(max_tokens=50)).json()["task_id"]
        await daemon.wait_state(running, "running")
        victim = (await daemon.submit(max_tokens=50, priority="batch")).json()["task_id"]
        kept = (await daemon.submit(max_tokens=50, priority="batch")).json()["task_id"]
        queue = daemon.services.queues.get("pool-a")
        assert len(queue) == 2

        admitted = await daemon.submit(max_tokens=50)
        assert admitted.status_code == 202
        # No waiting: the admission itself removed and ended the victim.
        assert len(queue) == 2 and await queue.get(victim) is None and await queue.get(kept) is not None
        record = daemon.services.registry.get(victim)
        assert record.state.terminal
        _, events = await read_stream(daemon.client, victim)
        assert [e.event for e in events] == ["error"]
        assert events[0].data["code"] == "QUEUE_FULL_DROP_LRU"
