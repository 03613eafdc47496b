"""The unmodified `openai` package against a live orchestratord on 127.0.0.1 with a mock llama.cpp engine
server: completions and chat, streaming and not, models, 429 as RateLimitError, in-stream errors, and a
streaming client that leaves cancels its task at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp

from mock_engine.faults import MockConfig
from mock_engine.server import serve_mock
from orchestratord.app import create_app
from tests.live_daemon import live_daemon
from tests.orchestratord.orchd_harness import MODEL, make_config
from tests.sdk.live_orchd import LiveOrchestratord


@asynccontextmanager
async def _one_slot_and_a_queue_of_one() -> AsyncIterator[tuple[ASGIApp, str]]:
    """orchestratord over a one-slot mock llama.cpp engine server, queue capacity 1, policy reject."""
    async with serve_mock("llamacpp", MockConfig(slots=1, ctx_max=4096)) as engine:
        replica = {"id": "r0", "pool_id": "pool-a", "engine": "llamacpp", "model_ref": MODEL, "slots": 1}
        config = make_config(
            replicas=[{**replica, "base_url": engine.base_url}],
            queues={"defaults": {"capacity": 1, "policy": "reject"}},
        )
        yield create_app(config), engine.base_url


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveOrchestratord]:
    with live_daemon(_one_slot_and_a_queue_of_one) as daemon:
        yield LiveOrchestratord(daemon.url, daemon.state)


@pytest.fixture
def sdk(stack: LiveOrchestratord) -> Iterator[openai.OpenAI]:
    stack.set_faults()
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key="local", max_retries=0, timeout=15)
    try:
        yield client
    finally:
        client.close()
        stack.set_faults()


def task_state(stack: LiveOrchestratord, task_id: str) -> str:
    state = httpx.get(f"{stack.url}/v1/tasks/{task_id}", timeout=5).json()["state"]
    return str(state)


def wait_for_state(stack: LiveOrchestratord, task_id: str, *states: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        state = task_state(stack, task_id)
        if state in states or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


@pytest.mark.req("ORCH-1060", "ORCH-1065")
def test_sdk_completion_returns_text_usage_and_the_task_id(
    stack: LiveOrchestratord, sdk: openai.OpenAI
) -> None:
    raw = sdk.completions.with_raw_response.create(
        model=MODEL, prompt="Once upon a time", max_tokens=6, seed=7
    )
    completion = raw.parse()
    task_id = raw.headers["x-orch-task-id"]
    assert completion.id == f"cmpl-{task_id}"
    assert completion.object == "text_completion"
    assert completion.model == MODEL
    assert completion.choices[0].text.strip()
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 6
    assert completion.usage.prompt_tokens > 0
    assert completion.system_fingerprint is not None
    assert completion.system_fingerprint.startswith("llamacpp-")
    assert task_state(stack, task_id) == "succeeded"


@pytest.mark.req("ORCH-1060", "ORCH-1065")
def test_sdk_completion_stream_concatenates_to_the_same_text(sdk: openai.OpenAI) -> None:
    whole = sdk.completions.create(model=MODEL, prompt="Tell me", max_tokens=8, seed=11)
    stream = sdk.completions.create(model=MODEL, prompt="Tell me", max_tokens=8, seed=11, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"


@pytest.mark.req("ORCH-1061", "ORCH-1065")
def test_sdk_chat_completion_returns_an_assistant_message(sdk: openai.OpenAI) -> None:
    chat = sdk.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "developer", "content": "You are terse."},
            {"role": "user", "content": "Name a fair queueing algorithm."},
        ],
        max_completion_tokens=5,
        seed=3,
    )
    assert chat.id.startswith("chatcmpl-")
    assert chat.object == "chat.completion"
    assert chat.choices[0].message.role == "assistant"
    assert chat.choices[0].message.content
    assert chat.choices[0].finish_reason == "length"
    assert chat.usage is not None
    assert chat.usage.completion_tokens == 5


@pytest.mark.req("ORCH-1061", "ORCH-1065")
def test_sdk_chat_stream_starts_with_the_role_and_ends_with_usage(sdk: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "Say something."}]
    whole = sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=7, seed=5)
    chunks = list(
        sdk.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=7,
            seed=5,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in with_choices) == whole.choices[0].message.content
    assert with_choices[-1].choices[0].finish_reason == "length"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 7
    assert {c.object for c in chunks} == {"chat.completion.chunk"}


@pytest.mark.req("ORCH-1062")
def test_sdk_lists_the_served_model(sdk: openai.OpenAI) -> None:
    models = list(sdk.models.list())
    assert [m.id for m in models] == [MODEL]
    assert models[0].owned_by == "orchqueue"


@pytest.mark.req("ORCH-1060", "ORCH-1204", "ORCH-2003")
def test_a_full_queue_surfaces_as_rate_limit_error(stack: LiveOrchestratord, sdk: openai.OpenAI) -> None:
    stack.set_faults(token_delay_ms=40)
    with httpx.Client(base_url=stack.url, timeout=15) as http:
        running = http.post("/v1/tasks", json={"model_ref": MODEL, "prompt": "a", "max_tokens": 200})
        running_id = running.json()["task_id"]
        assert wait_for_state(stack, running_id, "running") == "running"
        queued = http.post("/v1/tasks", json={"model_ref": MODEL, "prompt": "b", "max_tokens": 200})
        assert queued.status_code == 202
        try:
            with pytest.raises(openai.RateLimitError) as refused:
                sdk.completions.create(model=MODEL, prompt="c", max_tokens=4)
        finally:
            for task_id in (running_id, queued.json()["task_id"]):
                http.post(f"/v1/tasks/{task_id}/cancel")
    error = refused.value
    assert error.status_code == 429
    assert int(error.response.headers["retry-after"]) >= 1
    assert error.body is not None
    assert isinstance(error.body, dict)
    assert (error.code, error.type) == ("admission_reject", "rate_limit_error")
    assert error.body["message"]


@pytest.mark.req("ORCH-1064", "ORCH-1206")
def test_a_failure_after_the_stream_started_raises_an_api_error(
    sdk: openai.OpenAI, stack: LiveOrchestratord
) -> None:
    stack.set_faults(error_at=2)
    stream = sdk.completions.create(model=MODEL, prompt="fail soon", max_tokens=20, stream=True)
    texts: list[str] = []
    with pytest.raises(openai.APIError) as failed:
        texts.extend(chunk.choices[0].text for chunk in stream if chunk.choices)
    assert "".join(texts)
    assert isinstance(failed.value.body, dict)
    assert (failed.value.code, failed.value.type) == ("internal", "server_error")
    assert "injected engine error" in failed.value.message


@pytest.mark.req("ORCH-1065", "ORCH-1031")
def test_a_streaming_client_that_leaves_cancels_its_task_at_once(stack: LiveOrchestratord) -> None:
    stack.set_faults(token_delay_ms=40)
    body = {"model": MODEL, "prompt": "long story", "max_tokens": 500, "stream": True}
    with (
        httpx.Client(base_url=stack.url, timeout=15) as http,
        http.stream("POST", "/v1/completions", json=body) as response,
    ):
        task_id = response.headers["x-orch-task-id"]
        first = next(response.iter_bytes())
        assert first.startswith(b"data: ")
    left_at = time.monotonic()
    # The task-stream grace period is 5 s; the facade has none (ORCH-1065).
    assert wait_for_state(stack, task_id, "canceled", timeout_s=2.0) == "canceled"
    assert time.monotonic() - left_at < 2.0


def canceled_total(stack: LiveOrchestratord) -> float:
    text = httpx.get(f"{stack.url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "orchd_tasks_canceled_total"
    )


@pytest.mark.req("ORCH-1065", "ORCH-1031")
def test_a_non_streaming_client_that_leaves_cancels_its_task(stack: LiveOrchestratord) -> None:
    stack.set_faults(token_delay_ms=40)
    before = canceled_total(stack)
    body = {"model": MODEL, "prompt": "long story", "max_tokens": 500}
    with (
        httpx.Client(base_url=stack.url, timeout=httpx.Timeout(5, read=0.5)) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.post("/v1/completions", json=body)
    deadline = time.monotonic() + 2.0
    while canceled_total(stack) < before + 1:
        assert time.monotonic() < deadline, "the abandoned task was not canceled"
        time.sleep(0.05)
