"""A rolling restart under steady load loses nothing (ORCH-4118): three real orchestratord processes on one
real redis-server are restarted one by one (SIGTERM, exit, start, ready) while clients keep submitting and
reading tasks, as clients behind a load balancer do: a connection refused or cut goes to the next instance
(a submission again with the same client task id, a stream resumed with Last-Event-ID)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from test_harness.cluster import MODEL, Cluster, cluster
from tests.redis_support import RedisServer

pytestmark = [pytest.mark.timeout(180)]
TOKENS = 10  # 20 ms apart: a task runs for about 0.2 s
CLIENTS = 4
GRACE_S = 1.0  # the cluster's shutdown_grace_ms


@dataclass
class Seen:
    """What clients saw of one task, over every instance they reached it through."""

    token_indexes: list[int] = field(default_factory=list)
    terminals: list[tuple[str, Any]] = field(default_factory=list)
    last_id: str | None = None
    cut_streams: int = 0  # answered 200, then ended without the terminal event


@dataclass
class Load:
    """Steady load on every instance; the statuses of every answer and the tasks it admitted."""

    running: Cluster
    stop: threading.Event = field(default_factory=threading.Event)
    statuses: list[int] = field(default_factory=list)
    refused_connections: int = 0
    tasks: dict[str, Seen] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, first: int) -> None:
        instances = itertools.cycle(range(first, first + len(self.running.instances)))
        while not self.stop.is_set():
            task_id = str(uuid.uuid4())
            index = self.submit(task_id, instances)
            self.read(task_id, index, instances)

    def submit(self, task_id: str, instances: Iterator[int]) -> int:
        body = {"task_id": task_id, "model_ref": MODEL, "prompt": "rolling", "max_tokens": TOKENS}
        for attempt in range(60):
            index = next(instances) % len(self.running.instances)
            try:
                with self.running.http(index) as client:
                    response = client.post("/v1/tasks", json=body)
            except httpx.TransportError:
                with self.lock:
                    self.refused_connections += 1
                time.sleep(0.05 if attempt else 0)
                continue
            with self.lock:
                self.statuses.append(response.status_code)
            assert response.status_code == 202, response.text
            with self.lock:
                self.tasks[task_id] = Seen()
            return index
        raise AssertionError(f"no instance admitted {task_id}")

    def read(self, task_id: str, index: int, instances: Iterator[int]) -> None:
        seen = self.tasks[task_id]
        for _ in range(60):
            headers = {} if seen.last_id is None else {"Last-Event-ID": seen.last_id}
            opened = False
            try:
                with self.running.http(index, timeout_s=30) as client:
                    with client.stream("GET", f"/v1/tasks/{task_id}/stream", headers=headers) as response:
                        with self.lock:
                            self.statuses.append(response.status_code)
                        assert response.status_code == 200, response.read()
                        opened = True
                        self.events(response, seen)
            except httpx.TransportError:
                with self.lock:
                    self.refused_connections += 1
            if seen.terminals:
                return
            seen.cut_streams += opened
            index = next(instances) % len(self.running.instances)
            time.sleep(0.05)
        raise AssertionError(f"the stream of {task_id} never ended: {seen}")

    @staticmethod
    def events(response: httpx.Response, seen: Seen) -> None:
        kind = ""
        for line in response.iter_lines():
            if line.startswith("id: "):
                seen.last_id = line.removeprefix("id: ")
            elif line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = orjson.loads(line.removeprefix("data: "))
                if kind == "token":
                    seen.token_indexes.append(data["i"])
                elif kind in ("end", "error"):
                    seen.terminals.append((kind, data))
                    return


def stopped_log(running: Cluster, index: int) -> str:
    """The end of the log of the run that instance `index`'s restart stopped (the new run appends to it)."""
    return running.instances[index].stopped_log[-12000:]


@pytest.fixture
def three(redis_process: RedisServer) -> Iterator[Cluster]:
    with cluster(redis_process.url, instances=3, engines=2, slots=3, token_delay_ms=20) as running:
        yield running


@pytest.mark.req("ORCH-4118", "ORCH-4110")
def test_a_rolling_restart_under_steady_load_loses_no_task_and_answers_no_5xx(three: Cluster) -> None:
    load = Load(three)
    clients = [threading.Thread(target=load.client, args=(first,)) for first in range(CLIENTS)]
    for client in clients:
        client.start()
    stops: list[tuple[int | None, float]] = []
    try:
        time.sleep(1.0)
        for index in range(len(three.instances)):
            stops.append(three.restart(index, stop_grace_s=15.0))
            time.sleep(1.0)
    finally:
        load.stop.set()
        for client in clients:
            client.join(timeout=60)
    assert not any(client.is_alive() for client in clients), "a client never finished its task"

    unclean = [index for index, (status, _) in enumerate(stops) if status != 0]
    assert not unclean, f"an instance did not exit cleanly: {stops}\n" + stopped_log(three, unclean[0])
    # The grace bounds the drain; the exit adds the uvicorn and lifespan shutdown and the last writes.
    slow = [index for index, (_, seconds) in enumerate(stops) if seconds >= GRACE_S + 8]
    assert not slow, f"a stop took too long: {stops}\n" + stopped_log(three, slow[0])
    assert load.statuses and all(status < 500 for status in load.statuses), sorted(set(load.statuses))
    assert len(load.tasks) >= 40, f"the load was too light to prove anything: {len(load.tasks)} tasks"
    for task_id, seen in load.tasks.items():
        assert len(seen.terminals) == 1, (task_id, seen)
        kind, end = seen.terminals[0]
        assert kind == "end" and end["stop_reason"] == "max_tokens", (task_id, seen)
        assert seen.token_indexes == list(range(TOKENS)), (task_id, seen)
    with three.http(0) as client:
        final = [client.get(f"/v1/tasks/{task_id}").json()["state"] for task_id in load.tasks]
    assert set(final) == {"succeeded"}
    # The restarts were felt: clients were turned away by a stopping instance and went elsewhere; but no
    # stream open on a stopping instance was cut, each ended there with its task.
    assert load.refused_connections > 0
    assert sum(seen.cut_streams for seen in load.tasks.values()) == 0
