"""Tool calls and output formats on OpenAI-compatible engine wires (ORCH-1069, ORCH-1090).

`tool_choice` `auto` goes to the engine as it is: its chat template shows the tools to the model and its
parser returns the calls. `required` and a named function must produce a call whatever the model would
say, and llama.cpp accepts them without enforcing them on templates that have no tool format (the shipped
SmolLM2's has none). For such an engine the call is forced here instead: the tools are described in a
system message, the output is constrained by the engine's JSON-schema grammar to
`{"name": <one of the tools>, "arguments": <its parameters>}`, and the answer is parsed back into a call.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from orchestrator_core.errors import Internal
from worker_adapters.types import ChatMessage, GenerateRequest, ToolCall

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


def forced_tool(request: GenerateRequest) -> bool:
    """Whether the request demands a call (`required` or a named function) rather than allowing one."""
    if request.tools is None or request.tool_choice is None:
        return False
    choice = orjson.loads(request.tool_choice)
    return choice == "required" or isinstance(choice, dict)


def allowed_functions(request: GenerateRequest) -> list[dict[str, Any]]:
    """The function definitions the call may name: every tool, or the one `tool_choice` names."""
    tools = orjson.loads(request.tools or "[]")
    functions = [tool["function"] for tool in tools if isinstance(tool, dict) and "function" in tool]
    choice = orjson.loads(request.tool_choice or "null")
    if isinstance(choice, dict):
        wanted = choice["function"]["name"]
        functions = [f for f in functions if f.get("name") == wanted]
    return functions


def call_schema(functions: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON schema of one call of the allowed functions."""
    options = [
        {
            "type": "object",
            "properties": {"name": {"const": f["name"]}, "arguments": f.get("parameters") or _ANY_OBJECT},
            "required": ["name", "arguments"],
        }
        for f in functions
    ]
    return options[0] if len(options) == 1 else {"anyOf": options}


def tools_message(functions: list[dict[str, Any]]) -> ChatMessage:
    """The system message that shows the model the functions it must call."""
    described = "\n".join(orjson.dumps(f).decode() for f in functions)
    return ChatMessage(
        "system",
        "Answer with a call of one of these functions, as a JSON object "
        '{"name": <function name>, "arguments": <arguments object>}:\n' + described,
    )


def forced_call(request: GenerateRequest) -> dict[str, Any]:
    """The `messages` and `response_format` of a body that forces a call: the conversation with the tools
    message first (after the caller's own system message), the output held to one call's schema."""
    functions = allowed_functions(request)
    messages = request.messages or ()
    head = tuple(m for m in messages[:1] if m.role == "system")
    shown = (*head, tools_message(functions), *messages[len(head) :])
    return {
        "messages": [message_body(m) for m in shown],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "tool_call", "schema": call_schema(functions), "strict": True},
        },
    }


def parse_forced_call(text: str, engine: str, call_id: str) -> ToolCall:
    """The call of a grammar-constrained answer; anything else means the engine ignored the grammar."""
    try:
        call = orjson.loads(text)
        name, arguments = call["name"], call["arguments"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise Internal(f"{engine} answered a forced tool call with {text[:200]!r}", engine=engine) from exc
    if not isinstance(name, str):
        raise Internal(f"{engine} named no function in {text[:200]!r}", engine=engine)
    return ToolCall(call_id, name, orjson.dumps(arguments).decode())


def call_id(seed: int, text: str) -> str:
    """A call id derived from what produced the call, so a replayed task names it the same."""
    return "call_" + hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()[:24]


def message_body(message: ChatMessage) -> dict[str, Any]:
    """One message as OpenAI's wire spells it."""
    body: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        body["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
        body["content"] = message.content or None
    if message.tool_call_id is not None:
        body["tool_call_id"] = message.tool_call_id
    return body
