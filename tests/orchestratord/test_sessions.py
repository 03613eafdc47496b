"""Sessions: TTL, max turns, affinity to the last replica with kv_warmth, failover, GET/DELETE, budgets."""

from __future__ import annotations

import uuid

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import (
    MockReplica,
    ShiftedClock,
    make_config,
    read_stream,
    running_daemon,
)

TWO = [MockReplica("r0", slots=2), MockReplica("r1", slots=2)]


async def turn(daemon, session_id: str, **body: object):  # type: ignore[no-untyped-def]
    response = await daemon.submit(session_id=session_id, **body)
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    _, events = await read_stream(daemon.client, task_id, verbose=True)
    return events


@pytest.mark.req("ORCH-4502", "ORCH-1040")
async def test_later_turns_stay_on_the_last_replica_with_warm_kv() -> None:
    async with running_daemon(TWO) as daemon:
        session_id = str(uuid.uuid4())
        first = await turn(daemon, session_id)
        second = await turn(daemon, session_id)
        third = await turn(daemon, session_id)
        replica = first[0].data["replica_id"]
        assert second[0].data["replica_id"] == third[0].data["replica_id"] == replica
        assert first[1].data["kv_warmth"] is False
        assert second[1].data["kv_warmth"] is True
        info = (await daemon.client.get(f"/v1/sessions/{session_id}")).json()
        assert info["turns"] == 3 and info["kv_warmth"] is True and info["max_turns"] == 8
        assert 0 < info["ttl_ms_remaining"] <= 600_000


@pytest.mark.req("ORCH-4502")
async def test_failover_to_another_replica_reports_kv_warmth_false() -> None:
    async with running_daemon(TWO) as daemon:
        session_id = str(uuid.uuid4())
        first = await turn(daemon, session_id)
        warm = first[0].data["replica_id"]
        daemon.services.replicas.update(warm, ready=False)
        second = await turn(daemon, session_id)
        assert second[0].data["replica_id"] != warm
        assert second[1].data["kv_warmth"] is False
        info = (await daemon.client.get(f"/v1/sessions/{session_id}")).json()
        assert info["kv_warmth"] is False


@pytest.mark.req("ORCH-4501", "ORCH-1041")
async def test_session_turn_limit_is_409_and_ttl_expiry_forgets_it() -> None:
    clock = ShiftedClock()
    config = make_config(sessions={"max_turns": 2, "ttl_ms": 60_000})
    async with running_daemon(config=config, clock=clock) as daemon:
        session_id = str(uuid.uuid4())
        await turn(daemon, session_id)
        await turn(daemon, session_id)
        over = await daemon.submit(session_id=session_id)
        assert over.status_code == 409 and over.json()["code"] == "CONFLICT"
        clock.advance(61)
        assert (await daemon.client.get(f"/v1/sessions/{session_id}")).status_code == 404
        await turn(daemon, session_id)
        assert (await daemon.client.get(f"/v1/sessions/{session_id}")).json()["turns"] == 1


@pytest.mark.req("ORCH-1041")
async def test_delete_session_is_204_also_when_unknown() -> None:
    async with running_daemon() as daemon:
        session_id = str(uuid.uuid4())
        await turn(daemon, session_id)
        assert (await daemon.client.delete(f"/v1/sessions/{session_id}")).status_code == 204
        assert (await daemon.client.get(f"/v1/sessions/{session_id}")).status_code == 404
        assert (await daemon.client.delete(f"/v1/sessions/{uuid.uuid4()}")).status_code == 204


@pytest.mark.req("ORCH-2303", "ORCH-2304")
async def test_spent_session_token_budget_is_429_quota() -> None:
    config = make_config(sessions={"tokens_budget": 20})
    async with running_daemon([MockReplica(faults=Faults())], config=config) as daemon:
        session_id = str(uuid.uuid4())
        admitted = await daemon.submit(session_id=session_id, max_tokens=8)
        task_id = admitted.json()["task_id"]
        _, events = await read_stream(daemon.client, task_id, verbose=True)
        assert events[-1].event == "end"
        task = (await daemon.client.get(f"/v1/tasks/{task_id}")).json()
        assert task["tokens_in"] > 0 and task["tokens_out"] == 8
        info = (await daemon.client.get(f"/v1/sessions/{session_id}")).json()
        remaining = 20 - 8 - task["tokens_in"]
        assert info["tokens_budget_remaining"] == remaining
        refused = await daemon.submit(session_id=session_id, max_tokens=remaining + 1)
        assert refused.status_code == 429
        assert (refused.json()["code"], refused.json()["policy_label"]) == ("QUOTA_EXCEEDED", "quota")
