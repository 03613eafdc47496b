"""pool_managerd answers at its edge exactly as orchestratord does: one correlation id on every answer,
header and body limits before any handler, and every refusal as the envelope (ORCH-6014)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from http_edge.middleware import EdgeMiddleware
from pool_managerd.api import MAX_BODY_BYTES, create_app
from pool_managerd.spec import NodeSpec
from pool_managerd.supervisor import Supervisor, build_context
from tests.pool_managerd.pm_support import CPU_ONLY
from worker_adapters.factory import create_adapter

TOKEN = "node-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def node_api(tmp_path: Path) -> FastAPI:
    """The API of a node with no pools: the edge needs no engine."""
    spec = NodeSpec(host_id="host-edge", pools=(), log_dir=tmp_path, model_cache_dir=tmp_path)
    return create_app(Supervisor(spec, build_context(spec, {}, create_adapter, CPU_ONLY)), TOKEN)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=node_api(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://pool") as http:
        yield http


def assert_envelope(answer: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    body: dict[str, object] = answer.json()
    assert body["code"] == code
    assert body["correlation_id"] == answer.headers["x-correlation-id"]
    return body


@pytest.mark.req("ORCH-6014", "ORCH-9205")
def test_the_node_api_wraps_requests_in_the_shared_edge_middleware(tmp_path: Path) -> None:
    app = node_api(tmp_path)
    assert [middleware.cls for middleware in app.user_middleware] == [EdgeMiddleware]


@pytest.mark.req("ORCH-1202", "ORCH-6014")
async def test_a_visible_ascii_correlation_id_is_echoed_and_anything_else_replaced(
    client: httpx.AsyncClient,
) -> None:
    echoed = await client.get("/v1/health", headers={"x-correlation-id": "req/42@node"})
    assert echoed.status_code == 200 and echoed.headers["x-correlation-id"] == "req/42@node"
    for unusable in ("has space", "x" * 129):
        replaced = await client.get("/v1/health", headers={"x-correlation-id": unusable})
        assert uuid.UUID(replaced.headers["x-correlation-id"]).version == 4
    missing = await client.get("/v1/pools/nope", headers={**AUTH, "x-correlation-id": "pool-404"})
    assert assert_envelope(missing, 404, "NOT_FOUND")["correlation_id"] == "pool-404"


@pytest.mark.req("ORCH-1207", "ORCH-6014")
async def test_a_missing_node_token_is_401_with_bearer_challenge_and_says_what_to_send(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/pools")
    body = assert_envelope(answer, 401, "UNAUTHORIZED")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in str(body["message"])


@pytest.mark.req("ORCH-1003", "ORCH-1081", "ORCH-6014")
async def test_an_over_long_header_is_400_naming_the_header(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/pools", headers={**AUTH, "x-padding": "a" * 10_000})
    assert "x-padding" in str(assert_envelope(answer, 400, "INVALID_PARAMS")["message"])


@pytest.mark.req("ORCH-1081", "ORCH-6014")
async def test_a_chunked_body_past_the_limit_is_413_before_any_handler(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"new_model_ref": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    answer = await client.post("/v1/pools/nope/reload", headers=AUTH, content=chunks())
    assert_envelope(answer, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.req("ORCH-1081", "ORCH-6014")
async def test_a_malformed_body_is_400_naming_the_field(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/pools/nope/reload", headers=AUTH, json={"new_model_ref": 7})
    assert "new_model_ref" in str(assert_envelope(answer, 400, "INVALID_PARAMS")["message"])
