"""Model digests are always `sha256:<64 hex>`: configured, engine-reported, or the model_ref stand-in
(ORCH-1019, ORCH-1021, ORCH-1102, ORCH-6010)."""

from __future__ import annotations

import hashlib
import re

import pytest

from contracts.config_schema.orchestratord import OrchestratordConfig, StaticReplica
from http_edge.error_shapes import envelope_body
from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from mock_engine.faults import Faults, MockConfig
from orchestrator_core.errors import QuotaExceeded
from orchestratord.services.replicas import Replica, ReplicaSpec
from orchestratord.wiring import static_replica_spec
from tests.orchestratord.orchd_harness import MODEL, Daemon, read_stream
from worker_adapters.types import Props

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
STAND_IN = "sha256:" + hashlib.sha256(MODEL.encode()).hexdigest()
FILE_DIGEST = "sha256:" + "c0" * 32


def replica(spec: ReplicaSpec, reported: str | None) -> Replica:
    props = Props(2, 2, 4096, "m", reported, "llamacpp", "b1")
    return Replica(spec, MockAdapter(MockEngine(MockConfig(), Faults())), props=props)


@pytest.mark.req("ORCH-1019", "ORCH-1021", "ORCH-1102")
async def test_started_status_and_pool_health_carry_the_prefixed_stand_in(daemon: Daemon) -> None:
    task_id = (await daemon.submit(max_tokens=2)).json()["task_id"]
    _, events = await read_stream(daemon.client, task_id)
    assert events[0].data["model_digest"] == STAND_IN
    status = (await daemon.client.get(f"/v1/tasks/{task_id}")).json()
    assert status["replay"]["model_digest"] == STAND_IN
    health = (await daemon.client.get("/v1/pools/pool-a/health")).json()
    assert [r["model_digest"] for r in health["replicas"]] == [STAND_IN]


@pytest.mark.req("ORCH-1021", "ORCH-6010")
def test_a_configured_digest_wins_then_the_engines_then_the_stand_in() -> None:
    configured = StaticReplica.model_validate(
        {
            "id": "r0",
            "pool_id": "pool-a",
            "engine": "llamacpp",
            "base_url": "http://127.0.0.1:1",
            "model_ref": MODEL,
            "model_digest": FILE_DIGEST,
        }
    )
    spec = static_replica_spec(configured)
    assert replica(spec, "sha256:" + "ab" * 32).model_digest == FILE_DIGEST
    bare = ReplicaSpec("r1", "pool-a", "llamacpp", MODEL)
    assert replica(bare, "AB" * 32).model_digest == "sha256:" + "ab" * 32
    # An engine's revision hash (TGI's 40-hex model_sha) is not a file digest.
    assert replica(bare, "f" * 40).model_digest == STAND_IN
    assert replica(bare, None).model_digest == STAND_IN
    assert all(DIGEST.match(replica(bare, value).model_digest) for value in (None, "x", "1" * 64))


@pytest.mark.req("ORCH-6010")
def test_the_configured_digest_must_be_prefixed_sha256() -> None:
    with pytest.raises(ValueError, match="model_digest"):
        OrchestratordConfig.model_validate(
            {
                "replicas": [
                    {
                        "id": "r0",
                        "pool_id": "p",
                        "engine": "llamacpp",
                        "base_url": "http://127.0.0.1:1",
                        "model_ref": MODEL,
                        "model_digest": "c0" * 32,
                    }
                ]
            }
        )


@pytest.mark.req("ORCH-2304", "ORCH-1203")
def test_the_envelope_takes_retriable_from_the_error_instance() -> None:
    exhausted = QuotaExceeded("session token budget exhausted", retriable=False, policy_label="quota")
    assert envelope_body(exhausted, "c", None)["retriable"] is False
    assert envelope_body(QuotaExceeded("busy", policy_label="quota"), "c", None)["retriable"] is True
