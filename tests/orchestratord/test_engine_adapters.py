"""The daemon's config reaches every replica's adapter: the `retries` block decides how often a stream is
retried before the first token (ORCH-7005), for configured and node-registered replicas alike."""

from __future__ import annotations

import pytest

from contracts.config_schema.orchestratord import OrchestratordConfig, StaticReplica
from orchestrator_core.errors import PoolUnavailable
from orchestratord.services.engine_adapters import http_adapter, http_node_adapters
from tests.adapters.helpers import request
from tests.adapters.scripted_engine import Reply, ScriptedEngine
from worker_adapters.protocol import EngineAdapter

LOADING = Reply.plain(
    503, b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}', "application/json"
)


def config_with(max_retries: int) -> OrchestratordConfig:
    return OrchestratordConfig.model_validate(
        {"retries": {"max_retries": max_retries, "base_ms": 1, "cap_ms": 2}}
    )


async def attempts_until_refused(adapter: EngineAdapter, engine: ScriptedEngine) -> int:
    route = engine.route("POST", "/completion", LOADING)
    try:
        with pytest.raises(PoolUnavailable):
            async for _ in adapter.stream(request(max_tokens=4)):
                pass
    finally:
        await adapter.aclose()
    return route.call_count


@pytest.mark.req("ORCH-7005")
@pytest.mark.parametrize("max_retries", [0, 3])
async def test_a_configured_replica_retries_a_loading_engine_as_often_as_the_config_says(
    max_retries: int,
) -> None:
    async with ScriptedEngine() as engine:
        replica = StaticReplica.model_validate(
            {"id": "r1", "pool_id": "p1", "engine": "llamacpp", "base_url": engine.base_url, "model_ref": "m"}
        )
        adapter = http_adapter(replica, config_with(max_retries))
        assert await attempts_until_refused(adapter, engine) == max_retries + 1


@pytest.mark.req("ORCH-7005")
async def test_a_registered_replica_gets_the_same_retry_policy() -> None:
    async with ScriptedEngine() as engine:
        adapter = http_node_adapters(config_with(2))("llamacpp", engine.base_url, 1, 2048)
        assert await attempts_until_refused(adapter, engine) == 3
