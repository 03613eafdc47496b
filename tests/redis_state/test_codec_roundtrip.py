"""What crosses instances decodes to what was encoded: a task's spec (tool definitions, the calls and
results of earlier turns, the output format) and its terminal event (the tools the model called), so a
tool-calling task submitted to one instance reads the same through another (ORCH-4106, ORCH-1069)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratord.redis_state.codec import decode_outcome, decode_spec, encode_outcome, encode_spec
from orchestratord.services.task_events import Ended
from orchestratord.services.task_spec import TaskSpec
from worker_adapters.types import ChatMessage, ToolCall

TEXT = st.text(max_size=20)
CALLS = st.lists(st.builds(ToolCall, TEXT, TEXT, TEXT), max_size=3).map(tuple)
MESSAGES = st.lists(
    st.builds(
        ChatMessage,
        st.sampled_from(["system", "user", "assistant", "tool"]),
        TEXT,
        CALLS,
        st.none() | TEXT,
    ),
    min_size=1,
    max_size=4,
).map(tuple)
JSON_TEXT = st.none() | st.sampled_from(['[{"type":"function","function":{"name":"f"}}]', '"auto"', "{}"])


@pytest.mark.req("ORCH-4106", "ORCH-1069", "ORCH-1090")
@given(
    messages=MESSAGES,
    tools=JSON_TEXT,
    choice=JSON_TEXT,
    parallel=st.none() | st.booleans(),
    response_format=JSON_TEXT,
)
def test_a_chat_spec_with_tools_decodes_to_the_same_spec(
    messages: tuple[ChatMessage, ...],
    tools: str | None,
    choice: str | None,
    parallel: bool | None,
    response_format: str | None,
) -> None:
    spec = TaskSpec(
        task_id="t",
        tenant="acme",
        model_ref="m",
        max_tokens=4,
        messages=messages,
        workload="chat",
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        response_format=response_format,
    )
    assert decode_spec(encode_spec(spec)) == spec


@pytest.mark.req("ORCH-4106", "ORCH-1069")
@given(calls=CALLS, stop=st.sampled_from(["eos", "max_tokens", "tool_calls"]))
def test_an_end_with_tool_calls_decodes_to_the_same_end(calls: tuple[ToolCall, ...], stop: str) -> None:
    end = Ended(3, 4, 5, stop, calls)  # type: ignore[arg-type]
    assert decode_outcome(encode_outcome(end)) == end
