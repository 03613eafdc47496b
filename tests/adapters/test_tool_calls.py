"""The forced tool call of the OpenAI wires (ORCH-1069): the schema and message a required call is asked
with, the answer parsed back, and the typed error for an answer that is no call."""

from __future__ import annotations

import orjson
import pytest

from orchestrator_core.errors import Internal
from worker_adapters.openai_wire import OpenAIDecoder
from worker_adapters.sampling import openai_body
from worker_adapters.tool_calls import allowed_functions, call_schema, forced_tool, parse_forced_call
from worker_adapters.types import ChatMessage, GenerateRequest
from worker_adapters.wire import Finish

PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = orjson.dumps(
    [
        {"type": "function", "function": {"name": "get_weather", "parameters": PARAMS}},
        {"type": "function", "function": {"name": "get_time"}},
    ]
).decode()


def chat(choice: object | None) -> GenerateRequest:
    return GenerateRequest(
        max_tokens=8,
        seed=1,
        workload="chat",
        messages=(ChatMessage("system", "be brief"), ChatMessage("user", "weather?")),
        tools=TOOLS,
        tool_choice=None if choice is None else orjson.dumps(choice).decode(),
    )


@pytest.mark.req("ORCH-1069")
def test_only_required_and_named_choices_are_forced() -> None:
    assert forced_tool(chat("required")) and forced_tool(
        chat({"type": "function", "function": {"name": "x"}})
    )
    assert not forced_tool(chat("auto")) and not forced_tool(chat(None))


@pytest.mark.req("ORCH-1069")
def test_a_required_call_may_name_any_tool_and_a_named_one_only_that_tool() -> None:
    anyone = call_schema(allowed_functions(chat("required")))
    assert [o["properties"]["name"] for o in anyone["anyOf"]] == [
        {"const": "get_weather"},
        {"const": "get_time"},
    ]
    assert anyone["anyOf"][1]["properties"]["arguments"] == {"type": "object"}
    named = call_schema(allowed_functions(chat({"type": "function", "function": {"name": "get_weather"}})))
    assert named["properties"] == {"name": {"const": "get_weather"}, "arguments": PARAMS}


@pytest.mark.req("ORCH-1069")
def test_the_forced_body_shows_the_tools_after_the_system_turn_and_sends_no_tools() -> None:
    body = openai_body(chat("required"), None, force_calls=True)
    assert "tools" not in body and body["response_format"]["type"] == "json_schema"
    assert [m["role"] for m in body["messages"]] == ["system", "system", "user"]
    assert "get_time" in body["messages"][1]["content"]
    passed = openai_body(chat("auto"), None, force_calls=True)
    assert orjson.loads(orjson.dumps(passed["tools"])) == orjson.loads(TOOLS)


@pytest.mark.req("ORCH-1069")
@pytest.mark.parametrize("answer", ["not json", '{"arguments": {}}', '{"name": 3, "arguments": {}}', "[]"])
def test_an_answer_that_is_no_call_is_an_internal_error(answer: str) -> None:
    with pytest.raises(Internal):
        parse_forced_call(answer, "llamacpp", "call_1")


@pytest.mark.req("ORCH-1069")
def test_the_decoder_parses_a_forced_call_and_keeps_its_text_from_the_client() -> None:
    decoder = OpenAIDecoder("llamacpp", chat=True, forced_call_seed=7)
    pieces = decoder.feed('{"choices":[{"delta":{"content":"{\\"name\\":\\"get_weather\\","}}]}')
    pieces += decoder.feed('{"choices":[{"delta":{"content":"\\"arguments\\":{\\"city\\":\\"Paris\\"}}"}}]}')
    assert pieces == []
    decoder.feed('{"choices":[{"delta":{},"finish_reason":"stop"}]}')
    [finish] = decoder.feed("[DONE]")
    assert isinstance(finish, Finish) and finish.stop_reason == "tool_calls"
    [call] = finish.tool_calls
    assert (call.name, orjson.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert call.id.startswith("call_")


@pytest.mark.req("ORCH-1069")
def test_a_forced_call_cut_by_the_token_limit_ends_as_length_without_a_call() -> None:
    decoder = OpenAIDecoder("llamacpp", chat=True, forced_call_seed=7)
    decoder.feed('{"choices":[{"delta":{"content":"{\\"name\\":"}}]}')
    decoder.feed('{"choices":[{"delta":{},"finish_reason":"length"}]}')
    [finish] = decoder.feed("[DONE]")
    assert isinstance(finish, Finish) and (finish.stop_reason, finish.tool_calls) == ("limit", ())
