"""Two real orchestratord processes sharing one real redis-server behave as one orchestrator: a task admitted
through one is read, resumed, cancelled and dispatched through the other, client task ids are idempotent
across both, and together they never hold more of a replica's slots than it has."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from test_harness.cluster import MODEL, Cluster, cluster
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def pair(redis_process: RedisServer) -> Iterator[Cluster]:
    with cluster(redis_process.url, instances=2, engines=1, slots=2, token_delay_ms=20) as running:
        yield running


def submit(running: Cluster, index: int, **fields: Any) -> httpx.Response:
    body = {"model_ref": MODEL, "prompt": "shared", "max_tokens": 12, **fields}
    with running.http(index) as client:
        return client.post("/v1/tasks", json=body)


def admitted(running: Cluster, index: int, **fields: Any) -> str:
    response = submit(running, index, **fields)
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


def read_events(
    running: Cluster, index: int, task_id: str, last_event_id: int | None = None
) -> list[tuple[str, Any]]:
    """Every event of the task's stream through instance `index`, to the terminal one."""
    events = stream_events(running, index, task_id, last_event_id, to_terminal=True)
    if events and events[-1][0] in ("end", "error"):
        return events
    raise AssertionError(f"stream of {task_id} ended without a terminal event: {events}")


def stream_events(
    running: Cluster,
    index: int,
    task_id: str,
    last_event_id: int | None = None,
    *,
    to_terminal: bool = False,
    events: list[tuple[str, Any]] | None = None,
) -> list[tuple[str, Any]]:
    """The events of the task's stream through instance `index` (appended to `events` as they come),
    read to the first terminal one, or else until the server closes the stream."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    events = [] if events is None else events
    with running.http(index, timeout_s=60) as client:
        with client.stream("GET", f"/v1/tasks/{task_id}/stream", headers=headers) as response:
            assert response.status_code == 200, response.read()
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((kind, orjson.loads(line.removeprefix("data: "))))
                    if to_terminal and kind in ("end", "error"):
                        return events
    return events


def tokens(events: list[tuple[str, Any]]) -> list[tuple[int, str]]:
    return [(data["i"], data["t"]) for kind, data in events if kind == "token"]


def status(running: Cluster, index: int, task_id: str) -> dict[str, Any]:
    with running.http(index) as client:
        response = client.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def started_here(running: Cluster, index: int) -> set[str]:
    """The tasks instance `index` ran, from its `task.started` log lines."""
    lines = [orjson.loads(line) for line in running.log(index).splitlines() if line.startswith("{")]
    return {line["task_id"] for line in lines if line.get("event") == "task.started"}


def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.mark.req("ORCH-4106", "ORCH-4108")
def test_a_task_admitted_through_one_instance_streams_the_same_tokens_through_the_other(
    pair: Cluster,
) -> None:
    task_id = admitted(pair, 0, max_tokens=24)
    elsewhere = read_events(pair, 1, task_id)
    here = read_events(pair, 0, task_id)
    assert elsewhere[0][0] == "started"
    assert elsewhere[-1][0] == "end" and elsewhere[-1][1]["stop_reason"] == "max_tokens"
    assert len(tokens(elsewhere)) == 24
    assert elsewhere == here
    assert status(pair, 1, task_id)["state"] == "succeeded"
    assert status(pair, 1, task_id)["tokens_out"] == 24


@pytest.mark.req("ORCH-4108")
def test_a_reader_resumes_on_another_instance_after_the_last_token_it_saw(pair: Cluster) -> None:
    task_id = admitted(pair, 0, max_tokens=30)
    whole = read_events(pair, 0, task_id)
    resumed = read_events(pair, 1, task_id, last_event_id=9)
    assert resumed[0] == whole[0]  # the replay identity first, as on any resume
    assert tokens(resumed) == tokens(whole)[10:]
    assert resumed[-1] == whole[-1]


@pytest.mark.req("ORCH-4109")
def test_a_running_task_is_cancelled_through_the_instance_that_does_not_run_it(pair: Cluster) -> None:
    task_id = admitted(pair, 0, max_tokens=2_000)
    wait_for(lambda: status(pair, 1, task_id)["state"] == "running")
    events: list[list[tuple[str, Any]]] = []
    reader = threading.Thread(target=lambda: events.append(read_events(pair, 0, task_id)))
    reader.start()
    time.sleep(0.3)
    with pair.http(1) as client:
        assert client.post(f"/v1/tasks/{task_id}/cancel").status_code in (200, 202, 204)
    reader.join(timeout=10)
    assert events, "the stream did not end after the cancel"
    kind, end = events[0][-1]
    assert kind == "end" and end["stop_reason"] == "canceled"
    assert len(tokens(events[0])) < 2_000
    wait_for(lambda: status(pair, 1, task_id)["state"] == "canceled")
    assert status(pair, 0, task_id)["state"] == "canceled"


@pytest.mark.req("ORCH-4106")
def test_a_client_task_id_is_admitted_once_across_instances(pair: Cluster) -> None:
    task_id = str(uuid.uuid4())
    first = submit(pair, 0, task_id=task_id, max_tokens=5)
    again = submit(pair, 1, task_id=task_id, max_tokens=5)
    other = submit(pair, 1, task_id=task_id, max_tokens=6)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert other.status_code == 409 and other.json()["code"] == "CONFLICT"
    assert read_events(pair, 1, task_id)[-1][0] == "end"


@pytest.mark.req("ORCH-4101", "ORCH-4105", "ORCH-4106")
def test_both_instances_dispatch_and_never_hold_more_slots_than_the_replica_has(pair: Cluster) -> None:
    engine = pair.engines[0]
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        with httpx.Client(base_url=engine.url, trust_env=False, timeout=5) as client:
            while not stop.is_set():
                stats = client.get("/admin/stats").json()
                peak = max(peak, stats["running"] + stats["queued"])
                time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ids = [admitted(pair, index % 2, max_tokens=15) for index in range(12)]
        ends = [read_events(pair, (index + 1) % 2, task_id)[-1] for index, task_id in enumerate(ids)]
    finally:
        stop.set()
        watcher.join()
    assert all(kind == "end" and end["stop_reason"] == "max_tokens" for kind, end in ends)
    assert 0 < peak <= 2, f"the replica's 2 slots were exceeded: {peak} requests at once"
    started_by = [len(set(ids) & started_here(pair, i)) for i in (0, 1)]
    assert all(count > 0 for count in started_by), f"one instance dispatched nothing: {started_by}"


@pytest.mark.req("ORCH-4107")
def test_a_queue_position_counts_the_tasks_queued_through_the_other_instance(pair: Cluster) -> None:
    busy = [admitted(pair, index, max_tokens=2_000) for index in (0, 1)]
    try:
        wait_for(lambda: all(status(pair, 0, t)["state"] == "running" for t in busy))
        queued = [admitted(pair, 0, max_tokens=3) for _ in range(3)]
        response = submit(pair, 1, max_tokens=3)
        assert response.status_code == 202, response.text
        assert response.json()["queue_position"] == 3
        assert status(pair, 1, queued[2])["queue_position"] == 2
        queued.append(str(response.json()["task_id"]))
    finally:
        for task_id in busy:
            with pair.http(1) as client:
                client.post(f"/v1/tasks/{task_id}/cancel")
    assert all(read_events(pair, 1, t)[-1][0] == "end" for t in queued)
