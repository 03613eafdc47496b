"""`POST /v1/tasks` with the chat route's tools and output powers (ORCH-1093): the engine gets them in the
facade's form, the `end` event and the status report the calls, and what a task cannot take is refused
naming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live_daemon import LiveDaemon, live_daemon
from tests.orchestratord.orchd_harness import MODEL, engine_bodies, engine_chat_bodies
from tests.orchestratord.test_openai_tools import WEATHER, _llamacpp_and_tgi

ASK: Any = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveDaemon[str]]:
    with live_daemon(_llamacpp_and_tgi) as daemon:
        yield daemon


def run(stack: LiveDaemon[str], body: dict[str, Any]) -> tuple[httpx.Response, dict[str, Any] | None]:
    """Submits a task and returns the admission answer and the `end` event of its stream, if admitted."""
    admitted = httpx.post(
        f"{stack.url}/v1/tasks", json={"model_ref": MODEL, "max_tokens": 16, **body}, timeout=10
    )
    if admitted.status_code != 202:
        return admitted, None
    stream = httpx.get(f"{stack.url}{admitted.json()['streams']['sse']}", timeout=10).text
    end = json.loads(stream.split("event: end\ndata: ", 1)[1].split("\n", 1)[0])
    return admitted, end


@pytest.mark.req("ORCH-1093", "ORCH-1069")
def test_a_chat_task_with_tools_ends_with_the_calls(stack: LiveDaemon[str]) -> None:
    admitted, end = run(stack, {"messages": ASK, "tools": [WEATHER], "parallel_tool_calls": False})
    assert end is not None and end["stop_reason"] == "tool_calls"
    assert [c["function"]["name"] for c in end["tool_calls"]] == ["get_weather"]
    status = httpx.get(f"{stack.url}/v1/tasks/{admitted.json()['task_id']}", timeout=5).json()
    assert status["stop_reason"] == "tool_calls"
    sent = engine_chat_bodies(stack.state)[-1]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["parallel_tool_calls"] is False


@pytest.mark.req("ORCH-1093")
def test_tool_turns_and_the_output_format_reach_the_engine(stack: LiveDaemon[str]) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    messages = [
        *ASK,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
    ]
    schema = {"type": "object", "properties": {"sky": {"type": "string"}}, "required": ["sky"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "w", "schema": schema}}
    _, end = run(stack, {"messages": messages, "response_format": response_format, "frequency_penalty": 0.5})
    assert end is not None and end["stop_reason"] == "eos"
    sent = engine_chat_bodies(stack.state)[-1]
    assert sent["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert sent["messages"][2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
    assert sent["response_format"]["json_schema"]["schema"] == schema
    assert sent["frequency_penalty"] == 0.5


@pytest.mark.req("ORCH-1093", "ORCH-1092")
def test_a_completion_task_takes_penalties_and_biases(stack: LiveDaemon[str]) -> None:
    _, end = run(stack, {"prompt": "x", "presence_penalty": -1.0, "logit_bias": {"3": 2.5}})
    assert end is not None
    native = engine_bodies(stack.state, "/completion")[-1]
    assert (native["presence_penalty"], native["logit_bias"]) == (-1.0, [[3, 2.5]])


@pytest.mark.req("ORCH-1093", "ORCH-1091")
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"prompt": "x", "tools": [WEATHER]}, "tools"),
        ({"prompt": "x", "response_format": {"type": "json_object"}}, "response_format"),
        ({"messages": ASK, "tool_choice": "required"}, "tool_choice"),
        ({"messages": [{"role": "tool", "content": "sunny"}]}, "messages"),
        (
            {"model_ref": "pkg:tgi-model", "messages": ASK, "response_format": {"type": "json_object"}},
            "response_format",
        ),
    ],
    ids=[
        "tools-on-completion",
        "format-on-completion",
        "choice-without-tools",
        "tool-turn-without-id",
        "tgi",
    ],
)
def test_what_a_task_cannot_take_is_400_naming_it(
    stack: LiveDaemon[str], body: dict[str, Any], named: str
) -> None:
    refused, _ = run(stack, body)
    assert refused.status_code == 400
    assert refused.json()["code"] == "INVALID_PARAMS"
    assert refused.json()["message"].startswith(named)
