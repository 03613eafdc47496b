"""model_digest for engines without a file digest (Triton) comes from the running engine's model config;
TGI's model_sha never replaces the digest of the model files pool_managerd hashes (ORCH-7016)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from pool_managerd.digest import DigestCache, config_digest
from pool_managerd.registration import NodeIdentity, registration_body
from tests.pool_managerd.conftest import MakeSupervisor
from tests.pool_managerd.pm_support import CPU_ONLY, mock_pool_spec, wait_for
from worker_adapters.factory import create_adapter
from worker_adapters.protocol import EngineAdapter
from worker_adapters.types import Props

IDENTITY = NodeIdentity("host-a", "http://127.0.0.1:9200", "node-token-0123456789", 2.0)
# What a hub-downloaded TGI model reports in /info: a revision hash, shaped here like a SHA-256 on purpose.
MODEL_SHA = "sha256:" + "5e" * 32


def by_hand(config: dict[str, object], checkpoint: Path) -> str:
    """The spec's definition, written out independently of pool_managerd."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = canonical.encode() + b"\n" + str(checkpoint).encode()
    return "sha256:" + hashlib.sha256(text).hexdigest()


@pytest.mark.req("ORCH-7016")
def test_the_config_digest_is_sha256_of_sorted_compact_json_a_newline_and_the_checkpoint_path() -> None:
    config = {
        "name": "ensemble",
        "parameters": {"z": {"string_value": "é"}, "a": [3, 1]},
        "max_batch_size": 4,
    }
    expected = hashlib.sha256(
        '{"max_batch_size":4,"name":"ensemble","parameters":{"a":[3,1],"z":{"string_value":"é"}}}\n/models/trt'.encode()
    ).hexdigest()
    assert config_digest(config, Path("/models/trt")) == f"sha256:{expected}"
    reordered = {
        "parameters": {"a": [3, 1], "z": {"string_value": "é"}},
        "max_batch_size": 4,
        "name": "ensemble",
    }
    assert config_digest(reordered, Path("/models/trt")) == f"sha256:{expected}"
    assert config_digest(config, Path("/models/other")) != f"sha256:{expected}"


@pytest.mark.req("ORCH-7016", "ORCH-6010")
async def test_a_triton_replica_set_takes_its_digest_from_the_engines_model_config(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    repository = tmp_path / "model_repository"
    (repository / "ensemble").mkdir(parents=True)
    (repository / "ensemble" / "config.pbtxt").write_text('name: "ensemble"\n')
    spec = mock_pool_spec("trt", "triton", repository, slots=2, determinism="best_effort")
    supervisor = await make_supervisor(spec)
    pool = supervisor.pool("trt")
    await wait_for(lambda: pool.status().ready, 20, "the triton replica to be ready")
    status = pool.status()
    async with httpx.AsyncClient(base_url=status.replicas[0].endpoint) as engine:
        config = (await engine.get("/v2/models/ensemble/config")).json()
    assert status.model_digest == by_hand(config, repository.resolve())
    assert status.model_digest != DigestCache().digest(repository)
    replica = registration_body(IDENTITY, [status], CPU_ONLY).pools[0].replicas[0]
    assert replica.model_digest == status.model_digest


class ReportsModelSha:
    """A TGI adapter whose engine reports a model_sha in /info, as a hub-downloaded model does."""

    def __init__(self, inner: EngineAdapter) -> None:
        self._inner = inner
        self.health = inner.health
        self.stream = inner.stream
        self.metrics = inner.metrics
        self.aclose = inner.aclose

    async def props(self) -> Props:
        return replace(await self._inner.props(), model_digest=MODEL_SHA)


@pytest.mark.req("ORCH-7016", "ORCH-6010")
async def test_a_tgi_replica_reporting_a_model_sha_registers_the_digest_of_its_files(
    make_supervisor: MakeSupervisor, tmp_path: Path
) -> None:
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"safetensors mock weights")
    spec = mock_pool_spec("tgi", "tgi", model, determinism="best_effort")
    adapters_made: list[ReportsModelSha] = []

    def adapters(engine: str, base_url: str) -> EngineAdapter:
        adapter = ReportsModelSha(create_adapter(engine, base_url))
        adapters_made.append(adapter)
        return adapter

    supervisor = await make_supervisor(spec, adapters=adapters)
    pool = supervisor.pool("tgi")
    await wait_for(lambda: pool.status().ready, 20, "the tgi replica to be ready")
    assert adapters_made, "the replica was not probed through the model_sha-reporting adapter"
    assert (await adapters_made[-1].props()).model_digest == MODEL_SHA
    file_digest = "sha256:" + hashlib.sha256(model.read_bytes()).hexdigest()
    assert pool.status().model_digest == file_digest
    replica = registration_body(IDENTITY, [pool.status()], CPU_ONLY).pools[0].replicas[0]
    assert replica.model_digest == file_digest
