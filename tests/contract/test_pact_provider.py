"""Pact provider verification: the committed consumer pact `contracts/pacts/llorch-cli-orchestratord.json`
replayed against a live orchestratord on 127.0.0.1 (ORCH-9013).

Provider states are set up by a handler of this test only: it submits tasks through the daemon's public
API and changes the faults of the in-process mock engines the test built (a stalled single-slot engine
behind a queue of capacity 1 makes the full queue). The product serves no test-only route.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import pytest
from pact import Verifier

from mock_engine.faults import Faults
from tests.contract.live_app import LiveApp, Replica, live_app
from tests.contract.pact_terms import (
    BUSY_MODEL,
    BUSY_POOL,
    MODEL,
    PACT_FILE,
    POOL,
    PROVIDER,
    STATE_FINISHED,
    STATE_NO_TASK,
    STATE_QUEUE_FULL,
    STATE_RUNNING,
    STATE_SERVES,
    STATE_SESSION,
)

pytestmark = pytest.mark.req("ORCH-9013")

BUSY_REPLICA = "pool-busy-r0"
TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture(scope="module")
def provider() -> Iterator[LiveApp]:
    config = {"queues": {"pools": {BUSY_POOL: {"capacity": 1}}}}
    replicas = [
        Replica("pool-a-r0", POOL, slots=2, faults=Faults(token_delay_ms=5)),
        Replica(BUSY_REPLICA, BUSY_POOL, model_ref=BUSY_MODEL, slots=1),
    ]
    with live_app(config, replicas) as app:
        yield app


class ProviderStates:
    """Puts the live daemon into each state the consumer's interactions name, and undoes it."""

    def __init__(self, app: LiveApp) -> None:
        self.app = app
        self.http = httpx.Client(base_url=app.url, timeout=5, trust_env=False)
        self.to_cancel: list[str] = []

    def __call__(
        self, state: str, action: Literal["setup", "teardown"], parameters: dict[str, Any] | None
    ) -> None:
        params = parameters or {}
        if action == "teardown":
            self.teardown(state)
        elif state == STATE_FINISHED:
            self.submit(task_id=params["task_id"], max_tokens=8)
            self.wait_state(params["task_id"], TERMINAL)
        elif state == STATE_RUNNING:
            self.submit(task_id=params["task_id"], max_tokens=4000)
            self.wait_state(params["task_id"], {"running"})
            self.to_cancel.append(params["task_id"])
        elif state == STATE_SESSION:
            task_id = self.submit(session_id=params["session_id"], max_tokens=4)
            self.wait_state(task_id, TERMINAL)
        elif state == STATE_QUEUE_FULL:
            self.fill_busy_queue()
        elif state not in (STATE_SERVES, STATE_NO_TASK, ""):
            raise AssertionError(f"unknown provider state {state!r}")

    def submit(self, model_ref: str = MODEL, **fields: Any) -> str:
        body = {"model_ref": model_ref, "prompt": "provider state", **fields}
        response = self.http.post("/v1/tasks", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["task_id"])

    def wait_state(self, task_id: str, states: set[str], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.http.get(f"/v1/tasks/{task_id}").json()["state"] in states:
                return
            time.sleep(0.01)
        raise AssertionError(f"task {task_id} did not reach {sorted(states)} in {timeout_s} s")

    def fill_busy_queue(self) -> None:
        """One task holds the busy pool's only slot (its engine stalls), one more fills the queue of 1."""
        self.app.engines[BUSY_REPLICA].faults = Faults(stall_at=0)
        running = self.submit(BUSY_MODEL, max_tokens=4)
        self.wait_state(running, {"running"})
        queued = self.submit(BUSY_MODEL, max_tokens=4)
        self.to_cancel += [running, queued]

    def teardown(self, state: str) -> None:
        for task_id in self.to_cancel:
            self.http.post(f"/v1/tasks/{task_id}/cancel")
        self.to_cancel.clear()
        if state == STATE_QUEUE_FULL:
            self.app.engines[BUSY_REPLICA].faults = Faults()


def test_orchestratord_honours_the_llorch_cli_pact(provider: LiveApp) -> None:
    assert PACT_FILE.exists(), "run tests/contract/test_pact_consumer.py to record the pact"
    states = ProviderStates(provider)
    verifier = (
        Verifier(PROVIDER, host="127.0.0.1")
        .add_transport(url=provider.url)
        .add_source(PACT_FILE)
        .state_handler(states, teardown=True)
    )
    try:
        verifier.verify()
    except RuntimeError as failure:
        pytest.fail(f"{failure}\n{verifier.output(strip_ansi=True)}")
    finally:
        states.http.close()
