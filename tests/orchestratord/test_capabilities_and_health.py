"""Capabilities from live replica data, and the probes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contracts.api_types.data import Capabilities
from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, running_daemon

DATA_CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "data.yaml"


@pytest.fixture
def contract_version() -> str:
    return str(yaml.safe_load(DATA_CONTRACT.read_text(encoding="utf-8"))["info"]["version"])


@pytest.mark.req("ORCH-1050", "ORCH-1003")
async def test_capabilities_come_from_live_props_and_the_contract_version(contract_version: str) -> None:
    version = contract_version
    replicas = [MockReplica("r0", slots=3, ctx_max=2048), MockReplica("r1", slots=2, ctx_max=8192)]
    config = make_config(limits={"max_tokens": 512})
    async with running_daemon(replicas, config=config) as daemon:
        body = (await daemon.client.get("/v1/capabilities")).json()
        assert body["api_version"] == version
        assert body["engines"] == [
            {
                "engine": "llamacpp",
                "engine_version": "mock-1",
                "determinism": "best_effort",
                "ctx_max": 8192,
                "workloads": ["chat", "completion"],
                "slots_total": 5,
                "max_tokens_out": 8192,
                "features": ["logit_bias", "penalties", "response_format", "tools"],
            }
        ]
        assert body["limits"]["max_tokens_max"] == 512


@pytest.mark.req("ORCH-1050", "ORCH-1003")
async def test_capabilities_report_every_configured_limit_the_contract_requires() -> None:
    limits = {
        "max_body_bytes": 4096,
        "max_prompt_bytes": 2048,
        "max_tokens": 100,
        "max_stop_sequences": 3,
        "max_stop_length": 32,
        "max_messages": 7,
        "max_header_value_bytes": 1024,
    }
    async with running_daemon(config=make_config(limits=limits)) as daemon:
        body = (await daemon.client.get("/v1/capabilities")).json()
    Capabilities.model_validate(body)
    assert body["limits"] == {
        "body_max_bytes": 4096,
        "prompt_max_bytes": 2048,
        "max_tokens_max": 100,
        "stop_max_count": 3,
        "stop_max_chars": 32,
        "messages_max_count": 7,
        "header_value_max_bytes": 1024,
    }


@pytest.mark.req("ORCH-1071", "ORCH-1072", "ORCH-5004")
async def test_probes_are_open_and_readiness_follows_replicas() -> None:
    async with running_daemon([MockReplica(faults=Faults(dead=True))]) as daemon:
        assert (await daemon.client.get("/healthz")).json() == {"status": "ok"}
        unready = await daemon.client.get("/readyz")
        assert unready.status_code == 503 and unready.json()["code"] == "POOL_UNREADY"
        daemon.engines["r0"].faults.dead = False
        await daemon.services.replicas.refresh()
        ready = await daemon.client.get("/readyz")
        assert ready.json() == {"status": "ready", "replicas_ready": 1}
