"""`/v1/nodes/register` is the registration route only: `register` is never taken for a node id, so other
methods on it are 405 with `Allow: POST`, while `/v1/nodes/{id}` keeps serving real ids (ORCH-1080,
ORCH-1082, ORCH-1110, ORCH-1112)."""

from __future__ import annotations

import pytest

from tests.orchestratord.test_nodes_registry import ADMIN, NODE, node_stack, registration, replica


@pytest.mark.req("ORCH-1080", "ORCH-1082", "ORCH-1110")
@pytest.mark.parametrize("method", ["DELETE", "OPTIONS", "GET", "PUT"])
async def test_the_registration_path_serves_only_post(method: str) -> None:
    async with node_stack() as (daemon, _):
        answer = await daemon.client.request(method, "/v1/nodes/register", headers=ADMIN)
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "POST"
    assert answer.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.req("ORCH-1080", "ORCH-1082", "ORCH-1112")
async def test_a_node_path_still_serves_delete_and_allows_only_it() -> None:
    async with node_stack() as (daemon, engine):
        body = registration("host-1", {"pool-n": [replica("pool-n-r0", engine.base_url)]})
        assert (await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)).status_code == 200
        options = await daemon.client.options("/v1/nodes/host-1", headers=ADMIN)
        deleted = await daemon.client.delete("/v1/nodes/host-1", headers=ADMIN)
        unknown = await daemon.client.delete("/v1/nodes/host-1", headers=ADMIN)
    assert (options.status_code, options.headers["allow"]) == (405, "DELETE")
    assert deleted.status_code == 204
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


@pytest.mark.req("ORCH-1080", "ORCH-1110")
async def test_register_is_refused_as_a_node_id() -> None:
    async with node_stack() as (daemon, engine):
        body = registration("register", {"pool-n": [replica("pool-n-r0", engine.base_url)]})
        answer = await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)
        listed = (await daemon.client.get("/v1/nodes", headers=ADMIN)).json()["nodes"]
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "INVALID_PARAMS" and "node_id" in answer.json()["message"]
    assert listed == []
