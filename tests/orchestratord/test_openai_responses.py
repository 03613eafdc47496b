"""The unmodified `openai` package's Responses API, and `openai-agents` on its default Responses model,
against a live orchestratord whose replica is a mock llama.cpp server: text, streamed events, function
calls and their outputs, structured output, and what is refused because nothing is stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel
from starlette.types import ASGIApp

from mock_engine.faults import MockConfig
from mock_engine.server import serve_mock
from orchestratord.app import create_app
from tests.live_daemon import LiveDaemon
from tests.orchestratord.orchd_harness import MODEL, engine_chat_bodies, make_config

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


class Person(BaseModel):
    name: str
    age: int


@asynccontextmanager
async def _llamacpp() -> AsyncIterator[tuple[ASGIApp, str]]:
    async with serve_mock("llamacpp", MockConfig(slots=2, ctx_max=4096)) as engine:
        replica = {"id": "r0", "pool_id": "pool-a", "engine": "llamacpp", "model_ref": MODEL, "slots": 2}
        yield create_app(make_config(replicas=[{**replica, "base_url": engine.base_url}])), engine.base_url


BUILD = _llamacpp


def last_engine_body(stack: LiveDaemon[str]) -> dict[str, Any]:
    """The body the mock llama.cpp server last received."""
    return engine_chat_bodies(stack.state)[-1]


@pytest.mark.req("ORCH-1098", "ORCH-1099")
def test_a_response_answers_text_usage_and_the_task_id(sdk: openai.OpenAI, stack: LiveDaemon[str]) -> None:
    raw = sdk.responses.with_raw_response.create(
        model=MODEL, instructions="You are terse.", input="Name a queue.", max_output_tokens=5
    )
    response = raw.parse()
    assert response.id == f"resp_{raw.headers['x-orch-task-id']}"
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )
    assert response.output_text
    assert response.usage is not None and response.usage.output_tokens == 5
    assert last_engine_body(stack)["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a queue."},
    ]


@pytest.mark.req("ORCH-1099")
def test_a_streamed_response_follows_the_event_order_and_accumulates(sdk: openai.OpenAI) -> None:
    with sdk.responses.stream(model=MODEL, input="Name a queue.", max_output_tokens=6) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    # At the token limit the API ends with `response.incomplete`, not `response.completed`.
    last = events[-1]
    assert last.type == "response.incomplete"
    final = last.response
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert "response.output_text.delta" in kinds
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    assert final.output_text and final.usage is not None and final.usage.output_tokens == 6


@pytest.mark.req("ORCH-1098", "ORCH-1069")
def test_a_function_call_and_its_output_round_trip(sdk: openai.OpenAI, stack: LiveDaemon[str]) -> None:
    first = sdk.responses.create(
        model=MODEL, input="Weather in Paris?", tools=[WEATHER], max_output_tokens=16
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather"]
    assert json.loads(calls[0].arguments) == {"city": "x"}
    assert first.status == "completed"
    follow_up: Any = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "type": "function_call",
            "call_id": calls[0].call_id,
            "name": "get_weather",
            "arguments": calls[0].arguments,
        },
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"},
    ]
    second = sdk.responses.create(model=MODEL, input=follow_up, tools=[WEATHER], max_output_tokens=4)
    assert second.output_text
    sent = last_engine_body(stack)["messages"]
    assert sent[1]["tool_calls"][0]["id"] == calls[0].call_id
    assert sent[2] == {"role": "tool", "content": "sunny", "tool_call_id": calls[0].call_id}


@pytest.mark.req("ORCH-1098", "ORCH-1090")
def test_structured_output_parses_into_the_pydantic_model(sdk: openai.OpenAI, stack: LiveDaemon[str]) -> None:
    parsed = sdk.responses.parse(model=MODEL, input="A person", text_format=Person, max_output_tokens=40)
    assert isinstance(parsed.output_parsed, Person)
    assert last_engine_body(stack)["response_format"]["type"] == "json_schema"


@pytest.mark.req("ORCH-1098")
@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools.0"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}]},
            "input.0.content.0",
        ),
        ({"top_logprobs": 2}, "top_logprobs"),
    ],
    ids=["stored-response", "built-in-tool", "image", "logprobs"],
)
def test_what_cannot_be_served_is_400_naming_it(
    sdk: openai.OpenAI, extra: dict[str, Any], named: str
) -> None:
    body = {"model": MODEL, "input": "hi", "max_output_tokens": 2, **extra}
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.post("/responses", body=body, cast_to=httpx.Response)
    assert refused.value.code == "invalid_params"
    assert isinstance(refused.value.body, dict)
    assert str(refused.value.body["message"]).startswith(named)


@pytest.mark.req("ORCH-1098", "ORCH-1069")
def test_an_openai_agent_on_its_default_responses_model_reaches_its_final_answer(
    stack: LiveDaemon[str],
) -> None:
    from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

    asked: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather of a city."""
        asked.append(city)
        return f"It is sunny in {city}."

    client = openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key="local", max_retries=0, timeout=15)
    agent = Agent(
        name="weather",
        instructions="Answer with the weather the tool reports.",
        tools=[get_weather],
        model=OpenAIResponsesModel(model=MODEL, openai_client=client),
    )
    # The emulated model ends its answer after a few tokens, as a model does (an agent refuses a cut one).
    httpx.post(f"{stack.state}/admin/faults", json={"eos_at": 6}, timeout=5).raise_for_status()
    try:
        result = Runner.run_sync(
            agent, "Weather in Paris?", max_turns=4, run_config=RunConfig(tracing_disabled=True)
        )
    finally:
        httpx.post(f"{stack.state}/admin/faults/reset", timeout=5).raise_for_status()
    assert asked == ["x"]
    assert isinstance(result.final_output, str) and result.final_output


@pytest.mark.req("ORCH-1099")
def test_a_failure_after_the_stream_started_is_response_failed(
    sdk: openai.OpenAI, stack: LiveDaemon[str]
) -> None:
    httpx.post(f"{stack.state}/admin/faults", json={"error_at": 2}, timeout=5).raise_for_status()
    try:
        with sdk.responses.stream(model=MODEL, input="Name a queue.", max_output_tokens=20) as stream:
            events = list(stream)
    finally:
        httpx.post(f"{stack.state}/admin/faults/reset", timeout=5).raise_for_status()
    last = events[-1]
    assert last.type == "response.failed"
    assert last.response.status == "failed"
    assert last.response.error is not None and last.response.error.code == "internal"  # type: ignore[comparison-overlap]
