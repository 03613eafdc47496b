"""The shared mode while Redis does not answer, with real processes: admission answers a typed, retriable
503 with Retry-After at once (no 500, no hang), `/readyz` says unready, and service resumes when Redis is
back, without restarting orchestratord (ORCH-4111)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from test_harness.cluster import MODEL, Cluster, cluster
from tests.redis_state.test_cluster import admitted, read_events, wait_for
from tests.redis_support import RedisServer, redis_server

pytestmark = [pytest.mark.timeout(120)]
OP_TIMEOUT_MS = 400


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, which it stops, pauses and restarts."""
    with redis_server(tmp_path / "redis") as server:
        yield server


def submit(running: Cluster, index: int) -> tuple[httpx.Response, float]:
    body = {"model_ref": MODEL, "prompt": "outage", "max_tokens": 5}
    started = time.monotonic()
    with running.http(index) as client:
        response = client.post("/v1/tasks", json=body)
    return response, time.monotonic() - started


def assert_state_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "STATE_UNAVAILABLE" and body["retriable"] is True, body
    assert int(response.headers["Retry-After"]) >= 1
    assert int(response.headers["X-Backoff-Ms"]) == body["retry_after_ms"]


def assert_serves_again(running: Cluster, index: int) -> None:
    """Within a few seconds of Redis' return, readiness, admission and dispatch all work again."""
    wait_for(lambda: running.http(index).get("/readyz").status_code == 200, timeout_s=10)
    task_id = admitted(running, index, max_tokens=5)
    kind, end = read_events(running, index, task_id)[-1]
    assert kind == "end" and end["stop_reason"] == "max_tokens", end


@pytest.mark.req("ORCH-4111")
def test_a_paused_redis_gets_typed_503s_and_unready_then_service_resumes(own_redis: RedisServer) -> None:
    with cluster(own_redis.url, instances=2, slots=2, state={"op_timeout_ms": OP_TIMEOUT_MS}) as running:
        assert_serves_again(running, 0)
        os.kill(own_redis.process.pid, signal.SIGSTOP)  # connections hang, as behind a dead link
        try:
            for index in (0, 1):
                response, took_s = submit(running, index)
                assert_state_unavailable(response)
                assert took_s < 4 * OP_TIMEOUT_MS / 1000 + 1.0, took_s  # a timeout, never a hang
                ready = running.http(index).get("/readyz")
                assert_state_unavailable(ready)
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
        for index in (0, 1):
            assert_serves_again(running, index)
        assert "Traceback" not in running.log(0) + running.log(1)


@pytest.mark.req("ORCH-4111")
def test_a_restarted_redis_is_used_again_without_restarting_orchestratord(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    with cluster(own_redis.url, instances=1, slots=2, state={"op_timeout_ms": OP_TIMEOUT_MS}) as running:
        assert_serves_again(running, 0)
        own_redis.process.terminate()
        own_redis.process.wait(timeout=10)
        response, took_s = submit(running, 0)
        assert_state_unavailable(response)
        assert took_s < 4 * OP_TIMEOUT_MS / 1000 + 1.0, took_s
        assert_state_unavailable(running.http(0).get("/readyz"))
        with redis_server(tmp_path / "again", port=own_redis.port):
            assert_serves_again(running, 0)
