"""Pool operations: forwarded to a (fake) pool_managerd on 127.0.0.1 with the node token, answered from
local state for configured pools, and guarded by the admin role."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts.api_types.control import DrainAccepted, PoolHealth, PoolList, ReloadResult
from contracts.config_schema.common import sha256_hex
from mock_engine.faults import MockConfig
from mock_engine.server import MockServer, reserve_socket, serve_mock
from tests.live_daemon import live_daemon_async
from tests.orchestratord.orchd_harness import MODEL, Daemon, MockReplica, make_config, running_daemon

CONTROL_CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "control.yaml"
NODE_TOKEN = "node-secret"
ADMIN_KEY = "admin-key"
CLIENT_KEY = "client-key"
DIGEST = "sha256:" + "9f" * 32
NEW_DIGEST = "sha256:" + "4b" * 32
NODE = {"Authorization": f"Bearer {NODE_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}


@dataclass
class FakePoolManager:
    """pool_managerd's own API for one pool, recording what orchestratord sent."""

    url: str = ""
    calls: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    drains: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            auth = request.headers.get("authorization")
            self.calls.append(
                (request.method, request.url.path, auth, request.headers.get("x-correlation-id"))
            )
            if auth != f"Bearer {NODE_TOKEN}":
                return JSONResponse(envelope("UNAUTHORIZED", "wrong node token"), status_code=401)
            return await call_next(request)

        @app.get("/v1/pools/{pool_id}/health")
        async def health(pool_id: str) -> dict[str, Any]:
            return pool_health(pool_id)

        @app.post("/v1/pools/{pool_id}/drain", status_code=202)
        async def drain(pool_id: str, request: Request) -> dict[str, Any]:
            body = await request.json()
            self.drains.append(body)
            return {"pool_id": pool_id, "draining": True, "deadline_ms": body.get("deadline_ms", 30000)}

        @app.post("/v1/pools/{pool_id}/reload")
        async def reload(pool_id: str, request: Request) -> Any:
            model_ref = (await request.json())["new_model_ref"]
            if model_ref.startswith("/missing"):
                reason = (
                    f"reload failed: replica {pool_id}-r0 exited before ready (model file not found); "
                    "the old set keeps serving"
                )
                return JSONResponse(
                    envelope("CONFLICT", reason, pool_id=pool_id, engine="llamacpp"), status_code=409
                )
            return {
                "pool_id": pool_id,
                "model_ref": model_ref,
                "model_digest": NEW_DIGEST,
                "engine_version": "b0-unknown",
                "replicas_ready": 1,
            }

        return app


def envelope(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "retriable": False, "correlation_id": "node-side", **extra}


def pool_health(pool_id: str) -> dict[str, Any]:
    return {
        "pool_id": pool_id,
        "live": True,
        "ready": True,
        "draining": False,
        "last_error": None,
        "replicas": [
            {
                "replica_id": f"{pool_id}-r0",
                "state": "ready",
                "ready": True,
                "endpoint": "http://127.0.0.1:39001",
                "engine": "llamacpp",
                "engine_version": "b0-unknown",
                "model_digest": DIGEST,
                "slots_total": 1,
                "pid": 4242,
                "port": 39001,
                "restarts": 0,
                "last_exit_code": None,
                "last_error": None,
            }
        ],
    }


@asynccontextmanager
async def _fake_app(fake: FakePoolManager) -> AsyncIterator[tuple[FastAPI, FakePoolManager]]:
    yield fake.app(), fake


@asynccontextmanager
async def serve_fake(fake: FakePoolManager) -> AsyncIterator[FakePoolManager]:
    async with live_daemon_async(lambda: _fake_app(fake), ready_path=None) as served:
        fake.url = served.url
        yield fake


def registration(api_url: str, endpoint: str) -> dict[str, Any]:
    return {
        "node_id": "host-1",
        "api_url": api_url,
        "cpu_only": True,
        "devices": [],
        "pools": [
            {
                "pool_id": "pool-n",
                "engine": "llamacpp",
                "model_ref": MODEL,
                "ready": True,
                "draining": False,
                "last_error": None,
                "replicas": [
                    {
                        "replica_id": "pool-n-r0",
                        "endpoint": endpoint,
                        "engine_version": "b0-unknown",
                        "model_digest": DIGEST,
                        "determinism": "strict",
                        "slots_total": 1,
                        "ctx_max": 4096,
                        "ready": True,
                        "devices": ["cpu"],
                    }
                ],
            }
        ],
    }


@dataclass
class Stack:
    daemon: Daemon
    engine: MockServer
    fake: FakePoolManager


@asynccontextmanager
async def control_stack(*, api_url: str | None = None, **overrides: Any) -> AsyncIterator[Stack]:
    """A secured daemon with one configured pool (`pool-a`) and a node pool (`pool-n`) behind a fake node."""
    config = make_config(
        api_keys=[
            {"sha256": sha256_hex(ADMIN_KEY), "tenant": "ops", "role": "admin"},
            {"sha256": sha256_hex(CLIENT_KEY), "tenant": "acme", "role": "client"},
        ],
        node_tokens=[sha256_hex(NODE_TOKEN)],
        **overrides,
    )
    async with (
        serve_mock("llamacpp", MockConfig(slots=1)) as engine,
        serve_fake(FakePoolManager()) as fake,
        running_daemon([MockReplica(model_ref="pkg:static-model")], config=config, headers=ADMIN) as daemon,
    ):
        body = registration(api_url or fake.url, engine.base_url)
        registered = await daemon.client.post("/v1/nodes/register", json=body, headers=NODE)
        assert registered.status_code == 200
        yield Stack(daemon, engine, fake)


@pytest.mark.req("ORCH-1101")
async def test_pools_list_node_pools_and_configured_pools_sorted() -> None:
    async with control_stack() as stack:
        answer = await stack.daemon.client.get("/v1/pools")
    pools = PoolList.model_validate(answer.json()).pools
    assert [(p.pool_id, p.node_id, p.model_ref, p.live, p.ready) for p in pools] == [
        ("pool-a", "static", "pkg:static-model", True, True),
        ("pool-n", "host-1", MODEL, True, True),
    ]
    assert stack.fake.calls == []  # listing never calls the nodes


@pytest.mark.req("ORCH-1102", "ORCH-1120")
async def test_pool_health_is_forwarded_with_the_node_token_and_correlation_id() -> None:
    async with control_stack() as stack:
        answer = await stack.daemon.client.get(
            "/v1/pools/pool-n/health", headers={"X-Correlation-Id": "trace-7"}
        )
    assert answer.status_code == 200
    assert answer.json() == pool_health("pool-n")
    assert stack.fake.calls == [("GET", "/v1/pools/pool-n/health", f"Bearer {NODE_TOKEN}", "trace-7")]


@pytest.mark.req("ORCH-1103", "ORCH-6011")
async def test_drain_is_forwarded_and_stops_placement_at_once() -> None:
    async with control_stack() as stack:
        answer = await stack.daemon.client.post("/v1/pools/pool-n/drain", json={"deadline_ms": 5000})
        replica = stack.daemon.services.replicas.get("pool-n-r0")
        refused = await stack.daemon.client.post(
            "/v1/tasks", json={"model_ref": MODEL, "prompt": "x", "max_tokens": 2}
        )
        listed = (await stack.daemon.client.get("/v1/pools")).json()["pools"]
    assert answer.status_code == 202
    assert DrainAccepted.model_validate(answer.json()).deadline_ms == 5000
    assert stack.fake.drains == [{"deadline_ms": 5000}]
    assert replica.draining
    assert refused.status_code == 503
    assert [p["draining"] for p in listed if p["pool_id"] == "pool-n"] == [True]


@pytest.mark.req("ORCH-1104", "ORCH-1120")
async def test_reload_answers_the_nodes_result() -> None:
    async with control_stack() as stack:
        answer = await stack.daemon.client.post(
            "/v1/pools/pool-n/reload", json={"new_model_ref": "pkg:gemma"}
        )
    assert answer.status_code == 200
    result = ReloadResult.model_validate(answer.json())
    assert (result.model_ref, result.model_digest) == ("pkg:gemma", NEW_DIGEST)


@pytest.mark.req("ORCH-1104", "ORCH-1120")
async def test_a_failed_reload_passes_the_nodes_409_through() -> None:
    async with control_stack() as stack:
        answer = await stack.daemon.client.post(
            "/v1/pools/pool-n/reload",
            json={"new_model_ref": "/missing/model.gguf"},
            headers={"X-Correlation-Id": "r-1"},
        )
        still_ready = stack.daemon.services.replicas.get("pool-n-r0").ready
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "CONFLICT"
    assert "model file not found" in body["message"]
    assert (body["pool_id"], body["engine"], body["correlation_id"]) == ("pool-n", "llamacpp", "r-1")
    assert still_ready


@pytest.mark.req("ORCH-1105", "ORCH-1102")
async def test_an_unreachable_node_is_503_naming_the_pool() -> None:
    closed = reserve_socket("127.0.0.1", 0)  # bound, never listening: connections are refused
    try:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        async with control_stack(api_url=url) as stack:
            answer = await stack.daemon.client.get("/v1/pools/pool-n/health")
    finally:
        closed.close()
    assert answer.status_code == 503
    assert (answer.json()["code"], answer.json()["pool_id"]) == ("POOL_UNAVAILABLE", "pool-n")
    assert answer.json()["retriable"] is True


@pytest.mark.req("ORCH-1102", "ORCH-1114")
async def test_a_pool_whose_node_lease_expired_is_503_without_calling_it() -> None:
    lease = {"heartbeat_interval_ms": 100, "lease_intervals": 3}
    async with control_stack(node_lease=lease) as stack:
        await asyncio.sleep(0.5)
        answer = await stack.daemon.client.get("/v1/pools/pool-n/health")
    assert answer.status_code == 503
    assert "lease expired" in answer.json()["message"]
    assert stack.fake.calls == []


@pytest.mark.req("ORCH-1102")
async def test_an_unknown_pool_is_404_and_a_malformed_id_400() -> None:
    async with control_stack() as stack:
        unknown = await stack.daemon.client.get("/v1/pools/pool-zz/health")
        malformed = await stack.daemon.client.post("/v1/pools/-bad!/drain")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    assert (malformed.status_code, malformed.json()["code"]) == (400, "INVALID_PARAMS")


@pytest.mark.req("ORCH-1102", "ORCH-1103", "ORCH-1104")
async def test_a_configured_pool_answers_from_local_state() -> None:
    async with control_stack() as stack:
        health = await stack.daemon.client.get("/v1/pools/pool-a/health")
        first = await stack.daemon.client.post("/v1/pools/pool-a/drain", json={"deadline_ms": 9000})
        second = await stack.daemon.client.post("/v1/pools/pool-a/drain")
        reload = await stack.daemon.client.post(
            "/v1/pools/pool-a/reload", json={"new_model_ref": "pkg:other"}
        )
        draining = stack.daemon.services.replicas.get("r0").draining
    assert health.status_code == 200
    parsed = PoolHealth.model_validate(health.json())
    assert (parsed.ready, [r.replica_id for r in parsed.replicas]) == (True, ["r0"])
    assert (first.status_code, first.json()["deadline_ms"]) == (202, 9000)
    assert (second.status_code, second.json()["deadline_ms"]) == (202, 9000)
    assert draining
    assert reload.status_code == 409
    assert stack.fake.calls == []


@pytest.mark.req("ORCH-1120", "ORCH-5002", "ORCH-5003")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/pools", None),
        ("GET", "/v1/pools/pool-n/health", None),
        ("POST", "/v1/pools/pool-n/drain", {}),
        ("POST", "/v1/pools/pool-n/reload", {"new_model_ref": "pkg:x"}),
        ("GET", "/v1/nodes", None),
    ],
)
async def test_the_control_plane_needs_the_admin_role(method: str, path: str, body: Any) -> None:
    async with control_stack() as stack:
        client = stack.daemon.client
        as_client = await client.request(method, path, json=body, headers=CLIENT)
        as_node = await client.request(method, path, json=body, headers=NODE)
        unknown = await client.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
    assert (as_client.status_code, as_client.json()["code"]) == (403, "FORBIDDEN")
    assert (as_node.status_code, as_node.json()["code"]) == (403, "FORBIDDEN")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "UNAUTHORIZED")
    assert stack.fake.calls == []


def documented_statuses() -> dict[tuple[str, str], set[int]]:
    document = yaml.safe_load(CONTROL_CONTRACT.read_text(encoding="utf-8"))
    return {
        (method.upper(), path): {int(code) for code in operation["responses"]}
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "delete")
    }


@pytest.mark.req("ORCH-1080", "ORCH-1081")
async def test_every_control_status_answered_is_documented() -> None:
    contract = documented_statuses()
    hb = {
        "pools": [{"pool_id": "pool-n", "ready": True, "draining": False, "last_error": None, "replicas": []}]
    }
    stray = {"pools": [{**hb["pools"][0], "pool_id": "pool-x"}]}
    async with control_stack() as stack:
        body = registration(stack.fake.url, stack.engine.base_url)
        cases: list[tuple[str, str, str, dict[str, Any]]] = [
            ("GET", "/v1/pools", "/v1/pools", {}),
            ("GET", "/v1/pools", "/v1/pools", {"headers": CLIENT}),
            ("GET", "/v1/pools/{id}/health", "/v1/pools/pool-n/health", {}),
            ("GET", "/v1/pools/{id}/health", "/v1/pools/pool-q/health", {}),
            ("GET", "/v1/pools/{id}/health", "/v1/pools/_q/health", {}),
            ("POST", "/v1/pools/{id}/drain", "/v1/pools/pool-n/drain", {"json": {"deadline_ms": "1"}}),
            ("POST", "/v1/pools/{id}/drain", "/v1/pools/pool-q/drain", {}),
            ("POST", "/v1/pools/{id}/drain", "/v1/pools/pool-n/drain", {"json": {"deadline_ms": 1000}}),
            ("POST", "/v1/pools/{id}/drain", "/v1/pools/pool-n/drain", {"headers": NODE}),
            ("POST", "/v1/pools/{id}/reload", "/v1/pools/pool-n/reload", {"json": {}}),
            (
                "POST",
                "/v1/pools/{id}/reload",
                "/v1/pools/pool-n/reload",
                {"json": {"new_model_ref": "/missing"}},
            ),
            (
                "POST",
                "/v1/pools/{id}/reload",
                "/v1/pools/pool-n/reload",
                {"json": {"new_model_ref": "pkg:m"}},
            ),
            ("POST", "/v1/nodes/register", "/v1/nodes/register", {"json": body, "headers": NODE}),
            (
                "POST",
                "/v1/nodes/register",
                "/v1/nodes/register",
                {"json": {**body, "node_id": "host-2"}, "headers": NODE},
            ),
            (
                "POST",
                "/v1/nodes/register",
                "/v1/nodes/register",
                {"json": {**body, "extra": 1}, "headers": NODE},
            ),
            ("POST", "/v1/nodes/register", "/v1/nodes/register", {"json": body, "headers": CLIENT}),
            ("POST", "/v1/nodes/{id}/heartbeat", "/v1/nodes/host-1/heartbeat", {"json": hb, "headers": NODE}),
            (
                "POST",
                "/v1/nodes/{id}/heartbeat",
                "/v1/nodes/host-1/heartbeat",
                {"json": stray, "headers": NODE},
            ),
            ("POST", "/v1/nodes/{id}/heartbeat", "/v1/nodes/host-7/heartbeat", {"json": hb, "headers": NODE}),
            ("POST", "/v1/nodes/{id}/heartbeat", "/v1/nodes/host-1/heartbeat", {"json": [], "headers": NODE}),
            ("GET", "/v1/nodes", "/v1/nodes", {}),
            ("GET", "/v1/nodes", "/v1/nodes", {"headers": {"Authorization": "Bearer nope"}}),
            ("DELETE", "/v1/nodes/{id}", "/v1/nodes/host-7", {}),
            ("DELETE", "/v1/nodes/{id}", "/v1/nodes/-x", {}),
            ("DELETE", "/v1/nodes/{id}", "/v1/nodes/host-1", {"headers": CLIENT}),
            ("DELETE", "/v1/nodes/{id}", "/v1/nodes/host-1", {"headers": NODE}),
        ]
        seen: dict[tuple[str, str], set[int]] = {}
        for method, template, concrete, kwargs in cases:
            status = (await stack.daemon.client.request(method, concrete, **kwargs)).status_code
            assert status in contract[(method, template)], (method, concrete, status)
            seen.setdefault((method, template), set()).add(status)
    assert set(seen) == set(contract)
    assert {min(codes) for codes in seen.values()} <= {200, 202, 204}
    assert {409} <= seen[("POST", "/v1/nodes/register")] & seen[("POST", "/v1/pools/{id}/reload")]
