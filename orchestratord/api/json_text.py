"""Request fields kept as JSON text: tools, tool choices, output formats and biases travel to the engines
as their OpenAI JSON, whichever surface received them (ORCH-1069, ORCH-1090, ORCH-1092)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel

from orchestrator_core.errors import InvalidParams


def _plain(value: object) -> object:
    # By alias: `json_schema.schema` is `schema_` in Python (BaseModel has a `schema` method).
    return value.model_dump(mode="json", by_alias=True) if isinstance(value, BaseModel) else value


def json_text(value: object) -> str | None:
    """A request field as JSON text for the engine (None when the client left it out)."""
    if value is None:
        return None
    if isinstance(value, list):
        return orjson.dumps([_plain(item) for item in value]).decode()
    return orjson.dumps(_plain(value)).decode()


def tool_fields(tools: object, choice: object, parallel: bool | None) -> dict[str, Any]:
    """A task's `tools`, `tool_choice` and `parallel_tool_calls` as every surface sends them (ORCH-1069): a
    choice other than `none` needs tools, and `none` keeps the tools from the engine altogether."""
    if tools is None and choice not in (None, "none"):
        raise InvalidParams("tool_choice: needs tools")
    if choice == "none":
        tools = choice = None
    return {
        "tools": json_text(tools),
        "tool_choice": json_text(choice),
        "parallel_tool_calls": parallel if tools is not None else None,
    }


def function_tool(name: str, parameters: object, description: str | None) -> dict[str, Any]:
    """One function tool in OpenAI's form, from another API's definition of it."""
    function: dict[str, Any] = {"name": name, "parameters": parameters}
    if description is not None:
        function["description"] = description
    return {"type": "function", "function": function}


def format_text(response_format: BaseModel | None) -> str | None:
    """A `response_format` as JSON text; `text`, the default, asks for nothing."""
    if response_format is None or getattr(response_format, "type", None) == "text":
        return None
    return json_text(response_format)
