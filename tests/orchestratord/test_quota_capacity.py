"""A task costing more than the tenant's whole token bucket is refused for good, not asked to retry."""

from __future__ import annotations

import pytest

from tests.orchestratord.orchd_harness import make_config, running_daemon


@pytest.mark.req("ORCH-2305")
async def test_a_task_above_the_bucket_capacity_is_quota_exceeded_and_not_retriable() -> None:
    config = make_config(default_tenant={"quota": {"tokens_per_minute": 100}})
    async with running_daemon(config=config) as daemon:
        refused = await daemon.submit(max_tokens=101)
        assert refused.status_code == 429
        body = refused.json()
        assert (body["code"], body["retriable"]) == ("QUOTA_EXCEEDED", False)
        assert "100" in body["message"] and "capacity" in body["message"]
        # A task of exactly the capacity is admissible: the bucket starts full.
        assert (await daemon.submit(max_tokens=100)).status_code == 202
