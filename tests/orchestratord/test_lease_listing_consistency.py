"""What the control plane reports about a node's lease and what placement does agree: once a listing shows
a node's pool unready because its lease ran out, a task for it is refused at once, without waiting for the
periodic lease check (ORCH-1101, ORCH-1113, ORCH-1114, ORCH-1205)."""

from __future__ import annotations

import pytest

from mock_engine.faults import MockConfig
from mock_engine.server import serve_mock
from tests.orchestratord.orchd_harness import ShiftedClock, running_daemon
from tests.orchestratord.test_nodes_registry import (
    ADMIN,
    CLIENT,
    NODE,
    registration,
    replica,
    secured_config,
)

LEASE_S = 6.0


@pytest.mark.req("ORCH-1101", "ORCH-1114", "ORCH-1205")
@pytest.mark.parametrize("listing", ["/v1/pools", "/v1/nodes"])
async def test_a_listing_that_shows_an_expired_lease_leaves_no_replica_of_it_placeable(listing: str) -> None:
    clock = ShiftedClock()
    async with (
        serve_mock("llamacpp", MockConfig(slots=1)) as engine,
        running_daemon((), config=secured_config(), clock=clock, headers=CLIENT) as daemon,
    ):
        body = registration("host-1", {"pool-n": [replica("pool-n-r0", engine.base_url)]})
        assert (await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)).status_code == 200
        served = await daemon.submit(max_tokens=1)
        clock.advance(LEASE_S + 1)
        listed = (await daemon.client.get(listing, headers=ADMIN)).json()
        refused = await daemon.submit(max_tokens=1)
    assert served.status_code == 202, served.text
    entry = (listed.get("pools") or listed.get("nodes"))[0]
    assert entry.get("ready", entry.get("live")) is False
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "POOL_UNREADY"
