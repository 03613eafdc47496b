"""The unmodified `anthropic` package against a live orchestratord whose replica is a mock llama.cpp
server: messages streamed and not, tool use and its result sent back, the key as X-Api-Key, errors in
Anthropic's shape, and the blocks and options that are refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anthropic
import httpx
import pytest
from starlette.types import ASGIApp

from mock_engine.faults import MockConfig
from mock_engine.server import serve_mock
from orchestratord.app import create_app
from tests.live_daemon import LiveDaemon, live_daemon
from tests.orchestratord.orchd_harness import MODEL, engine_chat_bodies, make_config

KEY = "anthropic-test-key"
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ASK: Any = [{"role": "user", "content": "What is the weather in Paris?"}]


@asynccontextmanager
async def _keyed_llamacpp() -> AsyncIterator[tuple[ASGIApp, str]]:
    async with serve_mock("llamacpp", MockConfig(slots=2, ctx_max=4096)) as engine:
        replica = {"id": "r0", "pool_id": "pool-a", "engine": "llamacpp", "model_ref": MODEL, "slots": 2}
        key = {"sha256": hashlib.sha256(KEY.encode()).hexdigest(), "tenant": "acme", "role": "client"}
        config = make_config(replicas=[{**replica, "base_url": engine.base_url}], api_keys=[key])
        yield create_app(config), engine.base_url


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveDaemon[str]]:
    with live_daemon(_keyed_llamacpp) as daemon:
        yield daemon


@pytest.fixture
def client(stack: LiveDaemon[str]) -> Iterator[anthropic.Anthropic]:
    sdk = anthropic.Anthropic(base_url=stack.url, api_key=KEY, max_retries=0, timeout=15)
    try:
        yield sdk
    finally:
        sdk.close()


def engine_bodies(stack: LiveDaemon[str]) -> list[dict[str, Any]]:
    return engine_chat_bodies(stack.state)


@pytest.mark.req("ORCH-1095")
def test_a_message_answers_text_usage_and_the_task_id(
    client: anthropic.Anthropic, stack: LiveDaemon[str]
) -> None:
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=5, system="You are terse.", messages=ASK, stop_sequences=["\n\n"]
    )
    message = raw.parse()
    task_id = raw.headers["x-orch-task-id"]
    assert message.id == f"msg_{task_id}"
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 5 and message.usage.input_tokens > 0
    texts = [block.text for block in message.content if block.type == "text"]
    assert len(texts) == 1 and texts[0]
    sent = engine_bodies(stack)[-1]
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["stop"] == ["\n\n"]


@pytest.mark.req("ORCH-1097")
def test_a_streamed_message_follows_the_event_order_and_accumulates(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=6, messages=ASK) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 6
    assert final.content[0].type == "text" and final.content[0].text


@pytest.mark.req("ORCH-1095", "ORCH-1069")
def test_tool_use_and_its_result_round_trip(client: anthropic.Anthropic, stack: LiveDaemon[str]) -> None:
    first = client.messages.create(model=MODEL, max_tokens=16, messages=ASK, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    uses = [block for block in first.content if block.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather"]
    assert uses[0].input == {"city": "x"}
    follow_up: Any = [
        *ASK,
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "sunny"}]},
    ]
    second = client.messages.create(model=MODEL, max_tokens=4, messages=follow_up, tools=[WEATHER])
    assert second.stop_reason == "max_tokens"
    assert second.content[0].type == "text"
    sent = engine_bodies(stack)[-1]
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]
    assert sent["messages"][1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"x"}',
    }
    assert sent["messages"][2] == {"role": "tool", "content": "sunny", "tool_call_id": uses[0].id}


@pytest.mark.req("ORCH-1097", "ORCH-1069")
def test_a_streamed_tool_use_block_holds_the_whole_input(client: anthropic.Anthropic) -> None:
    choice: Any = {"type": "tool", "name": "get_weather"}
    with client.messages.stream(
        model=MODEL, max_tokens=32, messages=ASK, tools=[WEATHER], tool_choice=choice
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content_block_delta"]
        final = stream.get_final_message()
    assert [d.type for d in deltas] == ["input_json_delta"]
    assert json.loads(deltas[0].partial_json) == {"city": "x"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.input) for b in final.content if b.type == "tool_use"] == [("tool_use", {"city": "x"})]


@pytest.mark.req("ORCH-1096", "ORCH-1067")
def test_errors_are_in_anthropics_shape(client: anthropic.Anthropic, stack: LiveDaemon[str]) -> None:
    with pytest.raises(anthropic.NotFoundError) as unknown:
        client.messages.create(model="claude-nothing", max_tokens=4, messages=ASK)
    assert unknown.value.body == {
        "type": "error",
        "error": {
            "type": "not_found_error",
            "message": unknown.value.body["error"]["message"],
            "code": "model_not_found",
        },  # type: ignore[index]
    }
    keyless = anthropic.Anthropic(base_url=stack.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as refused:
        keyless.messages.create(model=MODEL, max_tokens=4, messages=ASK)
    assert refused.value.response.headers["x-correlation-id"]
    image: Any = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]
    with pytest.raises(anthropic.BadRequestError) as unserved:
        client.messages.create(model=MODEL, max_tokens=4, messages=[{"role": "user", "content": image}])
    assert "messages.0.content.0" in unserved.value.message
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    with pytest.raises(anthropic.BadRequestError) as no_thinking:
        client.messages.create(model=MODEL, max_tokens=4, messages=ASK, thinking=thinking)
    assert "thinking" in no_thinking.value.message
    missing = httpx.post(
        f"{stack.url}/v1/messages", json={"model": MODEL, "messages": ASK}, headers={"x-api-key": KEY}
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.req("ORCH-1095", "ORCH-1090")
def test_output_config_format_is_the_chat_response_format(
    client: anthropic.Anthropic, stack: LiveDaemon[str]
) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    message = client.messages.create(
        model=MODEL,
        max_tokens=16,
        messages=ASK,
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}},
    )
    text = message.content[0]
    assert text.type == "text" and json.loads(text.text) == {"name": "x"}
    assert engine_bodies(stack)[-1]["response_format"]["json_schema"]["schema"] == schema


@pytest.mark.req("ORCH-1097", "ORCH-1096")
def test_a_failure_after_the_stream_started_is_an_error_event(
    client: anthropic.Anthropic, stack: LiveDaemon[str]
) -> None:
    httpx.post(f"{stack.state}/admin/faults", json={"error_at": 2}, timeout=5).raise_for_status()
    try:
        kinds: list[str] = []
        with pytest.raises(anthropic.APIStatusError) as failed:
            with client.messages.stream(model=MODEL, max_tokens=20, messages=ASK) as stream:
                kinds.extend(event.type for event in stream)
    finally:
        httpx.post(f"{stack.state}/admin/faults/reset", timeout=5).raise_for_status()
    assert kinds[0] == "message_start" and "message_stop" not in kinds
    assert failed.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": failed.value.body["error"]["message"], "code": "internal"},  # type: ignore[index]
    }
