"""The unmodified `openai` package against a live orchestratord whose replicas are mock engine servers
(llama.cpp and TGI wires): tool calls (auto, required, streamed, the result sent back), structured output
parsed into a pydantic model, content parts, model names, the default max_tokens and a feature no replica
supports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
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
from tests.orchestratord.orchd_harness import MODEL, engine_bodies, engine_chat_bodies, make_config

CTX_MAX = 48
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


class Person(BaseModel):
    name: str
    age: int


@asynccontextmanager
async def _llamacpp_and_tgi() -> AsyncIterator[tuple[ASGIApp, str]]:
    """pool-a: a mock llama.cpp server (named `smol` and `tiny` too); pool-t: a mock TGI server."""
    async with AsyncExitStack() as stack:
        llama = await stack.enter_async_context(serve_mock("llamacpp", MockConfig(slots=2, ctx_max=CTX_MAX)))
        tgi = await stack.enter_async_context(serve_mock("tgi", MockConfig(slots=1, ctx_max=CTX_MAX)))
        replicas = [
            {"id": "r0", "pool_id": "pool-a", "engine": "llamacpp", "model_ref": MODEL, "slots": 2,
             "base_url": llama.base_url, "model_id": "smol", "ctx_max": CTX_MAX},
            {"id": "t0", "pool_id": "pool-t", "engine": "tgi", "model_ref": "pkg:tgi-model", "slots": 1,
             "base_url": tgi.base_url, "ctx_max": CTX_MAX},
        ]  # fmt: skip
        config = make_config(replicas=replicas, model_aliases={"pool-a": ["tiny"]})
        yield create_app(config), llama.base_url


BUILD = _llamacpp_and_tgi


def last_engine_body(stack: LiveDaemon[str]) -> dict[str, Any]:
    """The body the mock llama.cpp server last received."""
    return engine_chat_bodies(stack.state)[-1]


@pytest.mark.req("ORCH-1069")
def test_a_tool_call_round_trip_through_the_sdk(sdk: openai.OpenAI) -> None:
    first = sdk.chat.completions.create(model=MODEL, messages=ASK, tools=[WEATHER], max_tokens=8)  # type: ignore[arg-type, list-item]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == ["get_weather"]
    call = calls[0]
    assert call.type == "function"
    assert set(json.loads(call.function.arguments)) == {"city", "days"}
    follow_up: list[Any] = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump(mode="json")]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 20 C"},
    ]
    second = sdk.chat.completions.create(model=MODEL, messages=follow_up, max_tokens=4)
    assert second.choices[0].finish_reason == "length"
    assert second.choices[0].message.content


@pytest.mark.req("ORCH-1069")
def test_the_engine_receives_the_tools_and_the_conversation_with_its_calls(
    sdk: openai.OpenAI, stack: LiveDaemon[str]
) -> None:
    call = {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    messages: list[Any] = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": call}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    sdk.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[WEATHER, TIME],
        tool_choice="auto",
        parallel_tool_calls=False,
        max_tokens=4,  # type: ignore[list-item]
    )
    body = last_engine_body(stack)
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    assert body["tools"][0]["function"]["parameters"] == WEATHER["function"]["parameters"]  # type: ignore[index]
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("auto", False)
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert body["messages"][2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}


@pytest.mark.req("ORCH-1069")
def test_tool_choice_none_keeps_the_tools_from_the_engine(sdk: openai.OpenAI, stack: LiveDaemon[str]) -> None:
    answer = sdk.chat.completions.create(
        model=MODEL, messages=ASK, tools=[WEATHER], tool_choice="none", max_tokens=3
    )  # type: ignore[list-item]
    assert answer.choices[0].finish_reason == "length"
    assert answer.choices[0].message.tool_calls is None
    assert "tools" not in last_engine_body(stack)


@pytest.mark.req("ORCH-1069")
def test_a_named_tool_choice_is_forced_as_a_schema_constrained_call(
    sdk: openai.OpenAI, stack: LiveDaemon[str]
) -> None:
    choice: Any = {"type": "function", "function": {"name": "get_weather"}}
    answer = sdk.chat.completions.create(
        model=MODEL, messages=ASK, tools=[TIME, WEATHER], tool_choice=choice, max_tokens=40
    )  # type: ignore[list-item]
    body = last_engine_body(stack)
    # llama-server gets the call as grammar-constrained JSON, not as tools it may ignore.
    assert "tools" not in body
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["name"] == {"const": "get_weather"}
    assert schema["properties"]["arguments"] == WEATHER["function"]["parameters"]  # type: ignore[index]
    assert "get_weather" in body["messages"][0]["content"]
    assert answer.choices[0].finish_reason == "tool_calls"
    calls = answer.choices[0].message.tool_calls or []
    assert len(calls) == 1 and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "x", "days": 0}
    assert answer.choices[0].message.content is None


@pytest.mark.req("ORCH-1069", "ORCH-1065")
def test_a_streamed_tool_call_arrives_whole_before_the_last_chunk(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL, messages=ASK, tools=[WEATHER], max_tokens=8, stream=True
    )  # type: ignore[list-item]
    chunks = list(stream)
    calls = [c for chunk in chunks if chunk.choices for c in chunk.choices[0].delta.tool_calls or ()]
    assert [(c.index, c.function.name if c.function else None) for c in calls] == [(0, "get_weather")]
    assert calls[0].id and calls[0].function and json.loads(calls[0].function.arguments or "")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.req("ORCH-1069", "ORCH-1019")
def test_the_native_end_event_carries_the_tool_calls(sdk: openai.OpenAI, stack: LiveDaemon[str]) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model=MODEL, messages=ASK, tools=[WEATHER], max_tokens=8
    )  # type: ignore[list-item]
    task_id = raw.headers["x-orch-task-id"]
    status = httpx.get(f"{stack.url}/v1/tasks/{task_id}", timeout=5).json()
    assert status["stop_reason"] == "tool_calls"
    frames = httpx.get(f"{stack.url}/v1/tasks/{task_id}/stream", timeout=5).text
    end = json.loads(frames.split("event: end\ndata: ", 1)[1].split("\n", 1)[0])
    assert end["stop_reason"] == "tool_calls"
    assert [c["function"]["name"] for c in end["tool_calls"]] == ["get_weather"]


@pytest.mark.req("ORCH-1090")
def test_structured_output_parses_into_a_pydantic_model(sdk: openai.OpenAI, stack: LiveDaemon[str]) -> None:
    completion = sdk.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": "A person"}], response_format=Person, max_tokens=40
    )
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person)
    body = last_engine_body(stack)
    assert body["response_format"]["type"] == "json_schema"
    assert set(body["response_format"]["json_schema"]["schema"]["properties"]) == {"name", "age"}


@pytest.mark.req("ORCH-1091")
def test_a_feature_no_serving_replica_supports_is_400_naming_it(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="pkg:tgi-model", messages=ASK, response_format={"type": "json_object"}, max_tokens=4
        )
    assert refused.value.code == "invalid_params"
    assert refused.value.param == "response_format"
    assert "response_format" in refused.value.message
    # TGI declares tools: the same model takes a tool request.
    sdk.chat.completions.create(model="pkg:tgi-model", messages=ASK, tools=[WEATHER], max_tokens=4)  # type: ignore[list-item]


@pytest.mark.req("ORCH-1068")
def test_text_content_parts_are_joined_and_an_image_part_is_refused_naming_it(
    sdk: openai.OpenAI, stack: LiveDaemon[str]
) -> None:
    parts: Any = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]
    sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": parts}], max_tokens=2)
    assert last_engine_body(stack)["messages"] == [{"role": "user", "content": "Hello, world"}]
    image: Any = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:,"}},
    ]
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": image}], max_tokens=2)
    assert refused.value.param == "messages.0.content.1"
    assert "image_url" in refused.value.message


@pytest.mark.req("ORCH-1062", "ORCH-1067")
def test_every_model_name_is_listed_and_asks_for_the_model(sdk: openai.OpenAI) -> None:
    assert sorted(m.id for m in sdk.models.list()) == sorted([MODEL, "pkg:tgi-model", "smol", "tiny"])
    for name in ("smol", "tiny"):
        answer = sdk.completions.create(model=name, prompt="x", max_tokens=2)
        assert answer.model == name
        assert answer.usage is not None and answer.usage.completion_tokens == 2
    with pytest.raises(openai.NotFoundError) as unknown:
        sdk.completions.create(model="gpt-4o", prompt="x", max_tokens=2)
    assert (unknown.value.code, unknown.value.type) == ("model_not_found", "invalid_request_error")
    assert unknown.value.response.headers["x-correlation-id"]


@pytest.mark.req("ORCH-1066")
def test_without_max_tokens_the_answer_runs_to_the_end_of_the_context(sdk: openai.OpenAI) -> None:
    completion = sdk.completions.create(model=MODEL, prompt="Once")
    chat = sdk.chat.completions.create(model=MODEL, messages=ASK)
    assert completion.usage is not None and completion.usage.completion_tokens == CTX_MAX
    assert chat.usage is not None and chat.usage.completion_tokens == CTX_MAX
    assert chat.choices[0].finish_reason == "length"


@pytest.mark.req("ORCH-1064")
def test_edge_refusals_on_openai_routes_are_in_openai_shape(stack: LiveDaemon[str]) -> None:
    too_big = httpx.post(f"{stack.url}/v1/chat/completions", content=b"x" * (2 << 20), timeout=5)
    wrong_method = httpx.put(f"{stack.url}/v1/models", timeout=5)
    native = httpx.get(f"{stack.url}/v1/tasks/00000000-0000-4000-8000-000000000000", timeout=5)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "invalid_request_error"
    assert native.status_code == 404
    assert native.json()["code"] == "NOT_FOUND"  # the native routes keep the envelope


@pytest.mark.req("ORCH-1092")
def test_penalties_and_logit_bias_reach_the_engine_in_its_wire_form(
    sdk: openai.OpenAI, stack: LiveDaemon[str]
) -> None:
    sdk.completions.create(
        model=MODEL,
        prompt="x",
        max_tokens=2,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        logit_bias={"15": -100},
    )
    native = engine_bodies(stack.state, "/completion")[-1]
    assert (native["presence_penalty"], native["frequency_penalty"]) == (0.5, -0.5)
    assert native["logit_bias"] == [[15, -100]]
    sdk.chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=2, frequency_penalty=1.0, logit_bias={"7": 5}
    )
    chat = last_engine_body(stack)
    assert chat["frequency_penalty"] == 1.0 and "presence_penalty" not in chat
    assert chat["logit_bias"] == {"7": 5}
    sdk.completions.create(model=MODEL, prompt="x", max_tokens=2, presence_penalty=0, frequency_penalty=0)
    plain = engine_bodies(stack.state, "/completion")[-1]
    assert "presence_penalty" not in plain and "logit_bias" not in plain


@pytest.mark.req("ORCH-1092", "ORCH-1091")
def test_a_penalty_no_serving_replica_supports_is_400_naming_it(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="pkg:tgi-model", messages=ASK, presence_penalty=0.5, max_tokens=2)
    assert refused.value.param == "penalties"
    with pytest.raises(openai.BadRequestError) as biased:
        sdk.chat.completions.create(model="pkg:tgi-model", messages=ASK, logit_bias={"1": 1}, max_tokens=2)
    assert biased.value.param == "logit_bias"
