"""OpenAI Responses requests turned into the daemon's TaskSpec (ORCH-1098).

A response request becomes the same chat task as `POST /v1/chat/completions`: `instructions` and the input
items become chat messages (consecutive `function_call` items one assistant turn's calls, each
`function_call_output` a tool message), the function tools and the tool choice their chat forms, and
`text.format` the `response_format` (ORCH-1069, ORCH-1090). Nothing is stored, so what refers to a stored
response or conversation is refused.
"""

from __future__ import annotations

from typing import Any

import orjson

from contracts.api_types.data import ResponsesContentPart, ResponsesInputItem, ResponsesRequest, ToolChoice
from contracts.fields import given
from orchestrator_core.errors import InvalidParams
from worker_adapters.types import ChatMessage, ToolCall

from ..services.task_spec import TaskSpec
from .json_text import function_tool, tool_fields
from .openai_requests import FacadeContext

_ROLES: dict[str, Any] = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})


def _text(where: str, content: object) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    assert isinstance(content, list)  # the schema allows a string or a list of parts
    texts = []
    for index, part in enumerate(content):
        assert isinstance(part, ResponsesContentPart)
        if part.type not in _TEXT_PARTS:
            raise InvalidParams(f"{where}.{index}: {part.type} parts are not served here; send input_text")
        texts.append(given(part.text) or "")
    return "".join(texts)


def _messages(body: ResponsesRequest) -> list[ChatMessage]:
    instructions = given(body.instructions)
    messages = [ChatMessage("system", instructions)] if instructions else []
    items = body.input
    if isinstance(items, str):
        return [*messages, ChatMessage("user", items)]
    calls: list[ToolCall] = []
    for index, item in enumerate(items):
        kind = given(item.type) or "message"
        if kind != "function_call" and calls:
            messages.append(ChatMessage("assistant", "", tuple(calls)))
            calls = []
        where = f"input.{index}"
        if kind == "message":
            messages.append(_message(where, item))
        elif kind == "function_call":
            call_id, name = given(item.call_id), given(item.name)
            if call_id is None or name is None:
                raise InvalidParams(f"{where}: a function_call needs call_id and name")
            calls.append(ToolCall(call_id, name, given(item.arguments) or "{}"))
        elif kind == "function_call_output":
            call_id = given(item.call_id)
            if call_id is None:
                raise InvalidParams(f"{where}.call_id: required for a function_call_output")
            output = _text(f"{where}.output", given(item.output))
            messages.append(ChatMessage("tool", output, tool_call_id=call_id))
        elif kind != "reasoning":  # earlier reasoning carries nothing a replica here can use
            raise InvalidParams(f"{where}: {kind} items are not served here")
    if calls:
        messages.append(ChatMessage("assistant", "", tuple(calls)))
    return messages


def _message(where: str, item: ResponsesInputItem) -> ChatMessage:
    role = given(item.role)
    if role is None:
        raise InvalidParams(f"{where}.role: required for a message")
    return ChatMessage(_ROLES[role], _text(f"{where}.content", given(item.content)))


def _tools(body: ResponsesRequest) -> list[dict[str, Any]] | None:
    tools = given(body.tools)
    if not tools:
        return None
    functions: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        name = given(tool.name)
        if tool.type != "function" or name is None:
            raise InvalidParams(f"tools.{index}: the built-in tool {tool.type} is not served here")
        parameters = given(tool.parameters) or {"type": "object"}
        functions.append(function_tool(name, parameters, given(tool.description)))
    return functions


def _choice(body: ResponsesRequest) -> object:
    choice = given(body.tool_choice)
    if choice is None or isinstance(choice, str):
        return choice
    assert isinstance(choice, ToolChoice)
    name = given(choice.name)
    if choice.type != "function" or name is None:
        raise InvalidParams(f"tool_choice: {choice.type} is not served here; name a function")
    return {"type": "function", "function": {"name": name}}


def _response_format(body: ResponsesRequest) -> str | None:
    text = given(body.text)
    output = given(text.format) if text is not None else None
    if output is None or output.type == "text":
        return None
    if output.type == "json_object":
        return orjson.dumps({"type": "json_object"}).decode()
    schema: dict[str, Any] = {"name": given(output.name) or "output", "schema": given(output.schema_) or {}}
    strict = given(output.strict)
    if strict is not None:
        schema["strict"] = strict
    return orjson.dumps({"type": "json_schema", "json_schema": schema}).decode()


def _refuse_stored(body: ResponsesRequest) -> None:
    if given(body.previous_response_id) is not None:
        raise InvalidParams("previous_response_id: responses are not stored here; send the whole input")
    if given(body.conversation) is not None:
        raise InvalidParams("conversation: conversations are not stored here; send the whole input")
    if given(body.background):
        raise InvalidParams("background: background responses are not served here")
    if given(body.top_logprobs):
        raise InvalidParams("top_logprobs: log probabilities are not served on this route")


def response_spec(body: ResponsesRequest, context: FacadeContext) -> TaskSpec:
    """The chat task of a /v1/responses request."""
    _refuse_stored(body)
    messages = _messages(body)
    if not any(m.role != "system" for m in messages):
        raise InvalidParams("input: no item has content")
    return context.task(
        model_ref=body.model,
        max_tokens=given(body.max_output_tokens) or context.default_max_tokens,
        messages=tuple(messages),
        workload="chat",
        temperature=given(body.temperature),
        top_p=given(body.top_p),
        response_format=_response_format(body),
        **tool_fields(_tools(body), _choice(body), given(body.parallel_tool_calls)),
    )
