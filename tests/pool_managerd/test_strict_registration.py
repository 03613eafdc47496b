"""A replica registers the determinism mode its engine really runs in, and a pool configured strict whose
engine cannot run strict is refused when the configuration is loaded (ORCH-3505)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from contracts.api_types.control import NodeRegistration
from orchestrator_core.errors import InvalidParams
from orchestrator_core.vocabulary import Determinism
from pool_managerd.config import load_settings
from pool_managerd.determinism import running_mode
from pool_managerd.devices import DeviceInventory
from pool_managerd.engine_command import CommandValues, build_command
from pool_managerd.registration import NodeIdentity, fingerprint, registration_body
from pool_managerd.spec import PoolSpec
from tests.pool_managerd.conftest import MakeSupervisor
from tests.pool_managerd.pm_support import mock_pool_spec, wait_for
from tests.pool_managerd.test_registration import pool_status

IDENTITY = NodeIdentity("host-a", "http://127.0.0.1:9200", "node-token-0123456789", 2.0)
CPU = DeviceInventory(note="nvidia-smi not found")


def write_config(tmp_path: Path, **pool: object) -> Path:
    config = {
        "host_id": "host-a",
        "node_token": "node-token-0123456789",
        "pools": [
            {
                "id": "ok",
                "engine": "llamacpp",
                "model_ref": "/m.gguf",
                "devices": "cpu",
                "port_range": [20000, 20001],
            },
            {"id": "p", "model_ref": "/m", "devices": "cpu", "port_range": [20002, 20003], **pool},
        ],
    }
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.req("ORCH-3505")
@pytest.mark.parametrize(
    ("pool", "reason"),
    [
        ({"engine": "triton", "determinism": "strict"}, "engine triton cannot run strict determinism"),
        ({"engine": "tgi", "determinism": "strict"}, "engine tgi cannot run strict determinism"),
        (
            {"engine": "vllm", "slots": 8, "determinism": "strict"},
            "strict determinism on vllm runs one slot per replica (got slots 8)",
        ),
    ],
)
def test_a_strict_pool_whose_engine_cannot_run_strict_is_refused_at_load(
    tmp_path: Path, pool: dict[str, object], reason: str
) -> None:
    path = write_config(tmp_path, **pool)
    with pytest.raises(InvalidParams) as refused:
        load_settings(path)
    assert refused.value.message.startswith(f"{path}: pools.1.determinism: {reason}")
    if "cannot run" in reason:
        assert "set determinism: best_effort" in refused.value.message


@pytest.mark.req("ORCH-3505")
@pytest.mark.parametrize(
    "pool",
    [
        {"engine": "vllm", "slots": 1},
        {"engine": "triton", "determinism": "best_effort", "slots": 8},
        {"engine": "tgi", "determinism": "best_effort", "slots": 4},
        {"engine": "llamacpp", "determinism": "best_effort", "slots": 4},
    ],
)
def test_pools_that_can_run_their_mode_load(tmp_path: Path, pool: dict[str, object]) -> None:
    config = load_settings(write_config(tmp_path, **pool))
    assert config.pools[1].engine == pool["engine"]


@pytest.mark.req("ORCH-3505", "ORCH-6015")
@pytest.mark.parametrize(
    ("engine", "determinism", "slots", "mode"),
    [
        ("llamacpp", "strict", 1, "strict"),
        ("llamacpp", "strict", 4, "strict"),  # llama.cpp strict runs one slot whatever was asked
        ("llamacpp", "best_effort", 1, "best_effort"),
        ("vllm", "strict", 1, "strict"),
        ("vllm", "strict", 8, "best_effort"),
        ("tgi", "strict", 1, "best_effort"),
        ("triton", "strict", 1, "best_effort"),
        ("vllm", "best_effort", 1, "best_effort"),
    ],
)
def test_the_running_mode_is_strict_only_when_the_launch_makes_it_so(
    engine: str, determinism: str, slots: int, mode: str
) -> None:
    spec = PoolSpec(pool_id="p", engine=engine, model_ref="/m", slots=slots, determinism=determinism)
    assert running_mode(spec) == mode


@pytest.mark.req("ORCH-3505", "ORCH-3502")
def test_strict_vllm_runs_one_sequence_without_prefix_caching() -> None:
    values = CommandValues(
        engine="vllm",
        model=Path("/models/m"),
        host="127.0.0.1",
        port=20001,
        slots=1,
        ctx=2048,
        threads=1,
        pool_id="p",
        replica_id="p-r0",
        determinism="strict",
    )
    strict = build_command(values, binary="/bin/true")
    assert strict[strict.index("--max-num-seqs") + 1] == "1"
    assert "--no-enable-prefix-caching" in strict
    relaxed = build_command(replace(values, determinism="best_effort"), binary="/bin/true")
    assert "--no-enable-prefix-caching" not in relaxed


@pytest.mark.req("ORCH-3505", "ORCH-1110")
@pytest.mark.parametrize("mode", ["strict", "best_effort"])
def test_every_registered_replica_carries_its_pools_mode(mode: Determinism) -> None:
    status = replace(pool_status(), determinism=mode)
    body = registration_body(IDENTITY, [status], CPU)
    sent = NodeRegistration.model_validate_json(body.model_dump_json())
    assert [r.determinism for r in sent.pools[0].replicas] == [mode]


@pytest.mark.req("ORCH-3505")
def test_a_changed_mode_registers_again() -> None:
    strict = pool_status()
    assert fingerprint([strict]) != fingerprint([replace(strict, determinism="best_effort")])


@pytest.mark.req("ORCH-3505")
@pytest.mark.parametrize(
    ("determinism", "slots", "mode"), [("strict", 1, "strict"), ("best_effort", 2, "best_effort")]
)
async def test_a_running_pool_registers_the_mode_it_was_launched_in(
    make_supervisor: MakeSupervisor, tmp_path: Path, determinism: str, slots: int, mode: str
) -> None:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF mock weights")
    supervisor = await make_supervisor(
        mock_pool_spec("mock", "llamacpp", model, slots=slots, determinism=determinism)
    )
    await wait_for(lambda: supervisor.pool("mock").status().ready, 20, "the mock replica to be ready")
    body = registration_body(IDENTITY, supervisor.status(), CPU)
    replica = body.pools[0].replicas[0]
    assert (replica.determinism, replica.slots_total) == (mode, slots)
