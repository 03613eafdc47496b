"""Emit `contracts/schemas/config.schema.json` from the hand-written config types (ORCH-9002).

One JSON Schema (draft 2020-12) document describes both configuration files: the top-level properties
`orchestratord` and `pool_managerd` refer to their types under `$defs`. Output is deterministic: sorted
keys, two-space indent, trailing newline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from contracts.config_schema.orchestratord import OrchestratordConfig
from contracts.config_schema.pool_managerd import PoolManagerdConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = "contracts/schemas/config.schema.json"


def build_schema() -> dict[str, Any]:
    """The schema document for both daemons' configuration files."""
    refs, document = models_json_schema(
        [(OrchestratordConfig, "validation"), (PoolManagerdConfig, "validation")],
        ref_template="#/$defs/{model}",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OrchQueue configuration",
        "description": "Configuration files of orchestratord and pool_managerd. Unknown keys are errors.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "orchestratord": refs[(OrchestratordConfig, "validation")],
            "pool_managerd": refs[(PoolManagerdConfig, "validation")],
        },
        "$defs": document["$defs"],
    }


def render() -> str:
    """The schema document as committed."""
    return json.dumps(build_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def regenerate(check: bool, root: Path = REPO_ROOT) -> list[str]:
    """Write the schema if it changed; with `check`, write nothing. Returns the stale (or rewritten) paths."""
    target = root / SCHEMA_PATH
    text = render()
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return []
    if not check:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return [SCHEMA_PATH]
