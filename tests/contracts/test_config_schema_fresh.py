"""contracts/schemas/config.schema.json equals a fresh emission from the config types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.regen.config_schema import REPO_ROOT, SCHEMA_PATH, regenerate


@pytest.mark.req("ORCH-9002")
def test_the_committed_config_schema_is_fresh() -> None:
    assert regenerate(check=True) == [], "run `make regen`"


@pytest.mark.req("ORCH-9002")
def test_check_reports_a_stale_schema_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / SCHEMA_PATH
    target.parent.mkdir(parents=True)
    target.write_text("{}\n")

    assert regenerate(check=True, root=tmp_path) == [SCHEMA_PATH]
    assert target.read_text() == "{}\n"
    assert regenerate(check=False, root=tmp_path) == [SCHEMA_PATH]
    assert regenerate(check=True, root=tmp_path) == []


@pytest.mark.req("ORCH-9002", "ORCH-6001")
def test_the_schema_describes_both_daemons_and_forbids_unknown_keys() -> None:
    schema = json.loads((REPO_ROOT / SCHEMA_PATH).read_text())
    objects = [d for d in schema["$defs"].values() if d.get("type") == "object"]

    assert schema["properties"] == {
        "orchestratord": {"$ref": "#/$defs/OrchestratordConfig"},
        "pool_managerd": {"$ref": "#/$defs/PoolManagerdConfig"},
    }
    assert objects and all(d.get("additionalProperties") is False for d in objects)
    pool: dict[str, Any] = schema["$defs"]["Pool"]
    assert pool["properties"]["engine"]["enum"] == ["llamacpp", "vllm", "tgi", "triton"]
    assert set(pool["required"]) == {"id", "engine", "model_ref", "devices", "port_range"}
