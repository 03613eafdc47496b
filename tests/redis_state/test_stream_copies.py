"""An instance's copy of a task run elsewhere applies each stream entry once (ORCH-4108): reads of the task's
Redis Stream that overlap (two readers looking the task up at once) never duplicate a token."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(60)]


@pytest.mark.req("ORCH-4108")
async def test_overlapping_lookups_of_a_task_run_elsewhere_apply_each_entry_once(
    redis_process: RedisServer,
) -> None:
    state = {"backend": "redis", "url": redis_process.url, "key_prefix": f"copies{uuid.uuid4().hex[:8]}"}
    running = make_config(state={**state, "instance_id": "runs"})
    reading = make_config(state={**state, "instance_id": "reads"})
    slow = MockReplica(faults=Faults(token_delay_ms=10))
    async with running_daemon([slow], config=running) as runner, running_daemon([], config=reading) as reader:
        admitted = await runner.submit(max_tokens=24)
        task_id = admitted.json()["task_id"]
        shared = reader.services.shared
        assert shared is not None
        await runner.wait_tokens(task_id, 4)
        assert await shared.tasks.lookup(task_id) is not None
        await asyncio.sleep(0.06)  # the running instance writes more entries meanwhile
        # The copy was made while the task ran; three readers now look it up at once, each reading the
        # entries after the same one.
        copies = await asyncio.gather(*(shared.tasks.lookup(task_id) for _ in range(3)))
        assert len({id(copy) for copy in copies}) == 1, "one record per task"
        copy = copies[0]
        assert copy is not None
        produced = (await runner.client.get(f"/v1/tasks/{task_id}")).json()["tokens_out"]
        assert copy.transcript.tokens <= produced, "the copy holds tokens the task never produced"
        _, elsewhere = await read_stream(reader.client, task_id)
        _, here = await read_stream(runner.client, task_id)
        assert here[-1].event == "end"
    tokens = [int(event.id) for event in elsewhere if event.event == "token"]
    assert tokens == list(range(24))
    assert [(e.event, e.data) for e in elsewhere] == [(e.event, e.data) for e in here]
