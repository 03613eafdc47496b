"""Sessions shared through Redis (ORCH-4117): two real orchestratord processes on one real redis-server count
a session's turns and tokens once, keep its affinity whichever instance admits the next turn, and answer
GET and DELETE of it alike."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from test_harness.cluster import MODEL, Cluster, cluster
from tests.redis_state.test_cluster import read_events, status, wait_for
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(120)]

MAX_TURNS = 4
TOKENS_BUDGET = 400


@pytest.fixture(scope="module")
def pair(redis_process: RedisServer) -> Iterator[Cluster]:
    sessions = {"max_turns": MAX_TURNS, "tokens_budget": TOKENS_BUDGET}
    with cluster(redis_process.url, instances=2, engines=2, slots=2, sessions=sessions) as running:
        yield running


def turn(running: Cluster, index: int, session_id: str, max_tokens: int = 6) -> httpx.Response:
    body = {"model_ref": MODEL, "prompt": "turn", "max_tokens": max_tokens, "session_id": session_id}
    with running.http(index) as client:
        return client.post("/v1/tasks", json=body)


def finished_turn(running: Cluster, index: int, session_id: str, max_tokens: int = 6) -> dict[str, Any]:
    """Admits a turn through instance `index`, reads it to its end, and answers its started event."""
    response = turn(running, index, session_id, max_tokens)
    assert response.status_code == 202, response.text
    events = read_events(running, index, str(response.json()["task_id"]))
    assert events[-1][0] == "end", events[-1]
    started: dict[str, Any] = events[0][1]
    started["task_id"] = response.json()["task_id"]
    return started


def session(running: Cluster, index: int, session_id: str) -> httpx.Response:
    with running.http(index) as client:
        return client.get(f"/v1/sessions/{session_id}")


@pytest.mark.req("ORCH-4117", "ORCH-4501")
def test_turns_admitted_through_both_instances_count_against_one_turn_limit(pair: Cluster) -> None:
    session_id = str(uuid.uuid4())
    for index in range(MAX_TURNS):
        finished_turn(pair, index % 2, session_id)
    refused = [turn(pair, index, session_id) for index in (0, 1)]
    assert [r.status_code for r in refused] == [409, 409], [r.text for r in refused]
    assert all(r.json()["code"] == "CONFLICT" for r in refused)
    assert f"{MAX_TURNS} turns" in refused[1].json()["message"]
    assert [session(pair, index, session_id).json()["turns"] for index in (0, 1)] == [MAX_TURNS] * 2


def race_for_a_turn(running: Cluster, session_id: str) -> list[int]:
    """Both instances asked for a turn of the session at the same moment: their status codes, sorted."""
    barrier = threading.Barrier(2)
    answers: dict[int, int] = {}

    def ask(index: int) -> None:
        barrier.wait()
        answers[index] = turn(running, index, session_id).status_code

    racers = [threading.Thread(target=ask, args=(index,)) for index in (0, 1)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    return sorted(answers.values())


@pytest.mark.req("ORCH-4117")
def test_two_instances_racing_for_a_sessions_last_turn_admit_it_once(pair: Cluster) -> None:
    for _ in range(4):
        session_id = str(uuid.uuid4())
        for index in range(MAX_TURNS - 1):
            finished_turn(pair, index % 2, session_id)
        assert race_for_a_turn(pair, session_id) == [202, 409]
        wait_for(lambda session_id=session_id: session(pair, 1, session_id).json()["turns"] == MAX_TURNS)


@pytest.mark.req("ORCH-4117", "ORCH-2303")
def test_a_token_budget_is_charged_once_whichever_instance_runs_the_turns(pair: Cluster) -> None:
    session_id = str(uuid.uuid4())
    ran = [finished_turn(pair, index, session_id) for index in (0, 1, 0)]
    used = 0
    for started in ran:
        task = status(pair, 1, str(started["task_id"]))
        used += int(task["tokens_in"]) + int(task["tokens_out"])
    assert used > 0
    for index in (0, 1):
        wait_for(
            lambda index=index: (
                session(pair, index, session_id).json()["tokens_budget_remaining"] == TOKENS_BUDGET - used
            )
        )


@pytest.mark.req("ORCH-4117", "ORCH-2303")
def test_a_running_turns_reservation_on_one_instance_refuses_an_over_budget_turn_on_the_other(
    pair: Cluster,
) -> None:
    session_id = str(uuid.uuid4())
    long_turn = turn(pair, 0, session_id, max_tokens=TOKENS_BUDGET - 40)
    assert long_turn.status_code == 202, long_turn.text
    long_id = str(long_turn.json()["task_id"])
    try:
        refused = turn(pair, 1, session_id, max_tokens=60)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "QUOTA_EXCEEDED"
        assert "reserved by running tasks" in refused.json()["message"]
        small = turn(pair, 1, session_id, max_tokens=4)
        assert small.status_code == 202, small.text
    finally:
        with pair.http(1) as client:
            client.post(f"/v1/tasks/{long_id}/cancel")
    assert read_events(pair, 1, str(small.json()["task_id"]))[-1][0] == "end"


@pytest.mark.req("ORCH-4117", "ORCH-4502")
def test_the_next_turn_through_the_other_instance_runs_on_the_replica_that_holds_the_session(
    pair: Cluster,
) -> None:
    session_id = str(uuid.uuid4())
    first = finished_turn(pair, 0, session_id)
    following = [finished_turn(pair, index, session_id) for index in (1, 0, 1)]
    assert {started["replica_id"] for started in following} == {first["replica_id"]}
    for index in (0, 1):
        wait_for(lambda index=index: session(pair, index, session_id).json()["kv_warmth"] is True)


@pytest.mark.req("ORCH-4117", "ORCH-1040", "ORCH-1041")
def test_a_session_deleted_through_one_instance_is_gone_through_the_other(pair: Cluster) -> None:
    session_id = str(uuid.uuid4())
    finished_turn(pair, 0, session_id)
    seen = session(pair, 1, session_id)
    assert seen.status_code == 200, seen.text
    assert seen.json()["turns"] == 1 and seen.json()["max_turns"] == MAX_TURNS
    assert 0 < seen.json()["ttl_ms_remaining"] <= 600_000
    with pair.http(1) as client:
        assert client.delete(f"/v1/sessions/{session_id}").status_code == 204
    gone = session(pair, 0, session_id)
    assert gone.status_code == 404 and gone.json()["code"] == "NOT_FOUND"
    fresh = finished_turn(pair, 0, session_id)  # the id starts a new session with a full allowance
    assert fresh["task_id"]
    assert session(pair, 1, session_id).json()["turns"] == 1
