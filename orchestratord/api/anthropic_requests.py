"""Anthropic Messages requests turned into the daemon's TaskSpec (ORCH-1095).

A message request becomes the same chat task as `POST /v1/chat/completions`: the system prompt and the
turns become chat messages, `tool_use` blocks an assistant turn's tool calls and `tool_result` blocks tool
messages; tools, the tool choice and the output format become their OpenAI forms, which the adapters
already speak (ORCH-1069, ORCH-1090).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from contracts.api_types.data import AnthropicBlock, AnthropicInputMessage, AnthropicMessagesRequest
from contracts.fields import given
from orchestrator_core.errors import InvalidParams
from worker_adapters.types import ChatMessage, ToolCall

from ..services.task_spec import TaskSpec
from .json_text import function_tool, tool_fields
from .openai_requests import FacadeContext

# Blocks the model wrote earlier that carry nothing a replica here can use again.
_SKIPPED = frozenset({"thinking", "redacted_thinking"})


def _text(where: str, blocks: object) -> str:
    """A system prompt or tool result: a string, or text blocks joined in order."""
    if isinstance(blocks, str):
        return blocks
    assert isinstance(blocks, list)  # the schema allows a string or a list of blocks
    texts = []
    for index, block in enumerate(blocks):
        assert isinstance(block, AnthropicBlock)
        if block.type != "text":
            raise InvalidParams(f"{where}.{index}: a {block.type} block is not served here; send text")
        texts.append(given(block.text) or "")
    return "".join(texts)


def _result_text(where: str, content: object) -> str:
    """A tool result's content: a string, or text blocks (as plain objects) joined in order."""
    if content is None or isinstance(content, str):
        return content or ""
    assert isinstance(content, list)  # the schema allows a string or a list of blocks
    blocks = [AnthropicBlock.model_validate(item) for item in content]
    return _text(where, blocks)


def _turns(index: int, message: AnthropicInputMessage) -> Iterator[ChatMessage]:
    """The chat messages of one turn: tool results first, then the turn's text and tool calls."""
    role = message.role
    if isinstance(message.content, str):
        yield ChatMessage(role, message.content)
        return
    texts: list[str] = []
    calls: list[ToolCall] = []
    for number, block in enumerate(message.content):
        where = f"messages.{index}.content.{number}"
        if block.type == "text":
            texts.append(given(block.text) or "")
        elif block.type == "tool_use" and role == "assistant":
            call_id, name = given(block.id), given(block.name)
            if call_id is None or name is None:
                raise InvalidParams(f"{where}: a tool_use block needs id and name")
            calls.append(ToolCall(call_id, name, orjson.dumps(given(block.input) or {}).decode()))
        elif block.type == "tool_result" and role == "user":
            use_id = given(block.tool_use_id)
            if use_id is None:
                raise InvalidParams(f"{where}: a tool_result block needs tool_use_id")
            result = _result_text(f"{where}.content", given(block.content))
            yield ChatMessage(
                "tool", f"error: {result}" if given(block.is_error) else result, tool_call_id=use_id
            )
        elif block.type in _SKIPPED and role == "assistant":
            continue
        else:
            raise InvalidParams(f"{where}: a {block.type} block is not served in a {role} turn")
    if texts or calls:
        yield ChatMessage(role, "".join(texts), tuple(calls))


def _tools(body: AnthropicMessagesRequest) -> list[dict[str, Any]] | None:
    tools = given(body.tools)
    if not tools:
        return None
    functions: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        kind = given(tool.type)
        if kind not in (None, "custom"):
            raise InvalidParams(f"tools.{index}: the server tool {kind} is not served here")
        functions.append(function_tool(tool.name, tool.input_schema, given(tool.description)))
    return functions


def _choice(body: AnthropicMessagesRequest) -> tuple[object, bool | None]:
    """OpenAI's tool_choice and parallel_tool_calls for Anthropic's tool_choice."""
    choice = given(body.tool_choice)
    if choice is None:
        return None, None
    parallel = given(choice.disable_parallel_tool_use)
    allowed = None if parallel is None else not parallel
    if choice.type == "tool":
        name = given(choice.name)
        if name is None:
            raise InvalidParams("tool_choice.name: required for tool_choice of type tool")
        return {"type": "function", "function": {"name": name}}, allowed
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type], allowed


def _response_format(body: AnthropicMessagesRequest) -> str | None:
    config = given(body.output_config)
    output = given(config.format) if config is not None else None
    if output is None:
        return None
    wanted = {"type": "json_schema", "json_schema": {"name": "output", "schema": output.schema_}}
    return orjson.dumps(wanted).decode()


def messages_spec(body: AnthropicMessagesRequest, context: FacadeContext) -> TaskSpec:
    """The chat task of a /v1/messages request."""
    thinking = given(body.thinking)
    if thinking is not None and thinking.type != "disabled":
        raise InvalidParams("thinking: no replica here declares extended thinking; send type disabled")
    system = given(body.system)
    messages = [ChatMessage("system", _text("system", system))] if system else []
    for index, message in enumerate(body.messages):
        messages.extend(_turns(index, message))
    if not any(m.role != "system" for m in messages):
        raise InvalidParams("messages: no turn has content")
    tools = _tools(body)
    choice, parallel = _choice(body)
    return context.task(
        model_ref=body.model,
        max_tokens=body.max_tokens,
        messages=tuple(messages),
        workload="chat",
        temperature=given(body.temperature),
        top_p=given(body.top_p),
        top_k=given(body.top_k),
        stop=tuple(given(body.stop_sequences) or ()),
        response_format=_response_format(body),
        **tool_fields(tools, choice, parallel),
    )
