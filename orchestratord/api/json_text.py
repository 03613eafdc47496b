"""Request fields kept as JSON text: tools, tool choices, output formats and biases travel to the engines
as their OpenAI JSON, whichever surface received them (ORCH-1069, ORCH-1090, ORCH-1092)."""

from __future__ import annotations

import orjson
from pydantic import BaseModel


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
