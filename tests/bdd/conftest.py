"""Steps of the BDD journeys (ORCH-9015), shared by the feature files in `features/`.

The journeys run on the full local stack with the mock engine (orchestratord and pool_managerd processes
on 127.0.0.1); each test module provides a module-scoped `stack` fixture with the pools it needs. Steps
speak HTTP and SSE only, as a client or an operator would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_bdd import given, parsers, then, when

from test_harness.chaos.stack import MockStack
from test_harness.chaos.streams import Followed, follow

Journey = dict[str, Any]


def eventually(what: str, check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting until {what}")
        time.sleep(0.05)


def submit(stack: MockStack, journey: Journey, body: dict[str, Any], headers: dict[str, str]) -> None:
    with stack.http() as client:
        journey["response"] = client.post("/v1/tasks", json=body, headers=headers)
    assert journey["response"].status_code == 202, journey["response"].text
    journey["task_id"] = str(journey["response"].json()["task_id"])


def task_status(stack: MockStack, task_id: str) -> dict[str, Any]:
    with stack.http() as client:
        body: dict[str, Any] = client.get(f"/v1/tasks/{task_id}").json()
        return body


def output_tokens(stack: MockStack) -> float:
    text = httpx.get(f"{stack.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        if family.name == "orchd_output_tokens":
            return sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
    raise AssertionError("orchd_output_tokens_total is not exposed")


@pytest.fixture
def journey() -> Journey:
    """What one scenario's steps learned so far."""
    return {}


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


# --- given ---


@given("OrchQueue is running with a ready pool", target_fixture="orchqueue")
@given(
    parsers.parse('OrchQueue is running with pools "{first}" and "{second}" serving the same model'),
    target_fixture="orchqueue",
)
def orchqueue_running(stack: MockStack) -> MockStack:
    assert stack.ready_replicas() >= 1
    return stack


@given("I note the output token counter")
def note_counter(orchqueue: MockStack, journey: Journey) -> None:
    journey["tokens_before"] = output_tokens(orchqueue)


@given(parsers.parse('a long answer is streaming from pool "{pool_id}"'))
def long_answer(orchqueue: MockStack, journey: Journey, pool_id: str, executor: Any) -> None:
    body = {
        "model_ref": str(orchqueue.model_a),
        "prompt": "A long answer",
        "max_tokens": 60,
        "placement": {"mode": "pin", "pin_pool_id": pool_id},
    }
    submit(orchqueue, journey, body, {})
    journey["reader"] = executor.submit(follow, orchqueue.url, journey["task_id"], timeout_s=30)
    eventually("the answer streams", lambda: task_status(orchqueue, journey["task_id"])["tokens_out"] > 0)


# --- when ---


@when(parsers.parse('I submit the prompt "{prompt}" for {tokens:d} tokens'))
def submit_prompt(orchqueue: MockStack, journey: Journey, prompt: str, tokens: int) -> None:
    submit(
        orchqueue, journey, {"model_ref": str(orchqueue.model_a), "prompt": prompt, "max_tokens": tokens}, {}
    )


@when(parsers.parse('I submit the prompt "{prompt}" for {tokens:d} tokens with correlation id "{cid}"'))
def submit_with_correlation(
    orchqueue: MockStack, journey: Journey, prompt: str, tokens: int, cid: str
) -> None:
    body = {"model_ref": str(orchqueue.model_a), "prompt": prompt, "max_tokens": tokens}
    journey["prompt"] = prompt
    submit(orchqueue, journey, body, {"X-Correlation-Id": cid})


@when("I read the whole stream")
def read_stream(orchqueue: MockStack, journey: Journey) -> None:
    journey["stream"] = follow(orchqueue.url, journey["task_id"])


@when(parsers.parse("I cancel the task once {count:d} tokens have arrived"))
def cancel_midway(orchqueue: MockStack, journey: Journey, count: int) -> None:
    def cancel(tokens: int) -> None:
        if tokens == count:
            with orchqueue.http() as client:
                assert client.post(f"/v1/tasks/{journey['task_id']}/cancel").status_code == 204

    journey["stream"] = follow(orchqueue.url, journey["task_id"], on_token=cancel)


@when(parsers.parse('the operator drains pool "{pool_id}"'))
def drain(orchqueue: MockStack, pool_id: str) -> None:
    with orchqueue.http(10) as client:
        response = client.post(f"/v1/pools/{pool_id}/drain", json={"deadline_ms": 20_000})
    assert response.status_code == 202, response.text


@when(parsers.parse('the operator reloads pool "{pool_id}" with the new model'))
def reload(orchqueue: MockStack, journey: Journey, pool_id: str) -> None:
    with orchqueue.http(30) as client:
        journey["reload"] = client.post(
            f"/v1/pools/{pool_id}/reload", json={"new_model_ref": str(orchqueue.model_b)}
        )


# --- then ---


@then("the task is accepted with a link to its stream")
def accepted(journey: Journey) -> None:
    streams = journey["response"].json()["streams"]
    assert streams["sse"] == f"/v1/tasks/{journey['task_id']}/stream"


@then(parsers.parse("the stream shows the start, {tokens:d} tokens and the end"))
def full_stream(orchqueue: MockStack, journey: Journey, tokens: int) -> None:
    seen: Followed = follow(orchqueue.url, journey["task_id"])
    assert [event for event, _ in seen.events] == ["started", *["token"] * tokens, "end"]
    assert [token["i"] for token in seen.named("token")] == list(range(tokens))


@then(parsers.parse('the task status says "{state}"'))
def status_says(orchqueue: MockStack, journey: Journey, state: str) -> None:
    assert task_status(orchqueue, journey["task_id"])["state"] == state


@then("the stream ends as canceled before the answer is complete")
def ended_canceled(journey: Journey) -> None:
    seen: Followed = journey["stream"]
    assert seen.terminal is not None and seen.terminal_count == 1
    event, data = seen.terminal
    assert (event, data["stop_reason"]) == ("end", "canceled")
    assert 3 <= len(seen.named("token")) < 400


@then(parsers.parse('pool "{pool_id}" is listed as draining'))
def listed_draining(orchqueue: MockStack, pool_id: str) -> None:
    with orchqueue.http() as client:
        pools = client.get("/v1/pools").json()["pools"]
    assert next(pool for pool in pools if pool["pool_id"] == pool_id)["draining"] is True


@then(parsers.parse('new tasks are served by pool "{pool_id}"'))
def served_by(orchqueue: MockStack, journey: Journey, pool_id: str) -> None:
    for _ in range(2):
        submit_prompt(orchqueue, journey, "after the drain", 3)
        seen = follow(orchqueue.url, journey["task_id"])
        assert seen.named("started")[0]["pool_id"] == pool_id


@then("the long answer finishes completely")
def long_answer_finished(journey: Journey) -> None:
    seen: Followed = journey["reader"].result()
    assert seen.terminal is not None and seen.terminal[0] == "end"
    assert seen.terminal[1]["stop_reason"] == "max_tokens" and len(seen.named("token")) == 60


@then("the reload reports the new model's digest")
def reload_reports(journey: Journey) -> None:
    response = journey["reload"]
    assert response.status_code == 200, response.text
    journey["digest"] = response.json()["model_digest"]
    assert journey["digest"].startswith("sha256:")


@then("a task for the new model starts on that digest")
def new_model_task(orchqueue: MockStack, journey: Journey) -> None:
    body = {"model_ref": str(orchqueue.model_b), "prompt": "new model", "max_tokens": 3}
    submit(orchqueue, journey, body, {})
    seen = follow(orchqueue.url, journey["task_id"])
    assert seen.named("started")[0]["model_digest"] == journey["digest"]


@then(parsers.parse("the output token counter rose by {tokens:d}"))
def counter_rose(orchqueue: MockStack, journey: Journey, tokens: int) -> None:
    assert output_tokens(orchqueue) - journey["tokens_before"] == tokens


@then(parsers.parse('the logs show the task admitted, started and ended under correlation id "{cid}"'))
def logs_show_task(orchqueue: MockStack, journey: Journey, cid: str) -> None:
    wanted = ["task.admitted", "task.started", "task.ended"]

    def logged() -> list[str]:
        lines = orchqueue.orchestratord_log()
        return [line["event"] for line in lines if line.get("task_id") == journey["task_id"]]

    eventually("the task's log lines are written", lambda: all(e in logged() for e in wanted), 5.0)
    mine = [line for line in orchqueue.orchestratord_log() if line.get("task_id") == journey["task_id"]]
    admitted = next(line for line in mine if line["event"] == "task.admitted")
    assert admitted["correlation_id"] == cid


@then("no log line contains the prompt")
def prompt_not_logged(orchqueue: MockStack, journey: Journey) -> None:
    assert journey["prompt"] not in orchqueue.orchestratord.log_path.read_text()
