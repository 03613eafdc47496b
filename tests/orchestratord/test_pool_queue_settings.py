"""Queue capacity and full-queue policy are set per pool, default to 256 and `reject`, and are reported by
`GET /v1/pools` (ORCH-2010)."""

from __future__ import annotations

import pytest

from contracts.api_types.control import PoolList
from orchestrator_core.queue import FullPolicy
from tests.orchestratord.orchd_harness import MockReplica, make_config, running_daemon

TWO_POOLS = [
    MockReplica(replica_id="pool-a-r0", pool_id="pool-a"),
    MockReplica(replica_id="pool-b-r0", pool_id="pool-b"),
]


@pytest.mark.req("ORCH-2010")
async def test_pools_report_their_own_queue_capacity_and_policy() -> None:
    config = make_config(queues={"pools": {"pool-b": {"capacity": 3, "policy": "drop-lru"}}})
    async with running_daemon(TWO_POOLS, config=config) as daemon:
        answer = await daemon.client.get("/v1/pools")
        assert answer.status_code == 200
        pools = PoolList.model_validate(answer.json()).pools
        reported = {p.pool_id: (p.queue_capacity, p.queue_policy) for p in pools}
        assert reported == {"pool-a": (256, "reject"), "pool-b": (3, "drop-lru")}
        applied = daemon.services.queues.get("pool-b").config
        assert (applied.capacity, applied.policy) == (3, FullPolicy.DROP_LRU)
