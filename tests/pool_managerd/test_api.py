"""pool_managerd's API over a supervisor running the mock engine: auth, bodies, drain, reload, metrics."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Collection
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.api_types.pool import NodeHealth, PoolHealth, PoolStatusList
from pool_managerd.api import create_app
from pool_managerd.registration import RegistrationState
from pool_managerd.spec import PoolSpec
from pool_managerd.supervisor import Supervisor
from tests.pool_managerd.conftest import MakeSupervisor
from tests.pool_managerd.pm_support import MOCK_TEMPLATE, REPO, free_port_range, wait_for

TOKEN = "node-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def spec_metrics() -> dict[str, tuple[str, set[str], str]]:
    """name -> (type, labels, help) of every pool_managerd metric in .specs/metrics/otel-prom.md."""
    text = (REPO / ".specs" / "metrics" / "otel-prom.md").read_text()
    section = text.split("## pool_managerd", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| poolmgr_")]
    return {
        name.strip(): (kind.strip(), {x.strip() for x in labels.split(",")} - {"-"}, help_text.strip())
        for name, kind, labels, _unit, _buckets, help_text in rows
    }


@pytest.fixture
async def supervisor(make_supervisor: MakeSupervisor, tmp_path: Path) -> Supervisor:
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF mock weights")
    started = await make_supervisor(
        PoolSpec(
            pool_id="mock",
            engine="llamacpp",
            model_ref=str(model),
            port_range=free_port_range(4),
            command_template=MOCK_TEMPLATE,
            start_timeout_s=30.0,
        )
    )
    await wait_for(lambda: started.pool("mock").status().ready, 30, "the mock pool to be ready")
    return started


def client_for(
    supervisor: Supervisor, open_endpoints: Collection[str] = ("health", "metrics")
) -> httpx.AsyncClient:
    app = create_app(supervisor, TOKEN, lambda: RegistrationState(registered=True), open_endpoints)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pool")


@pytest.fixture
async def client(supervisor: Supervisor) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(supervisor) as http:
        yield http


@pytest.mark.req("ORCH-6014", "ORCH-1201")
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-0000000000"}, {"Authorization": TOKEN}]
)
async def test_pool_routes_need_the_node_token(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/v1/pools", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "UNAUTHORIZED" and body["retriable"] is False
    assert body["correlation_id"] == response.headers["X-Correlation-Id"]


@pytest.mark.req("ORCH-6014", "ORCH-1101", "ORCH-6006")
async def test_pools_lists_replicas_with_identity(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/pools", headers=AUTH)
    assert response.status_code == 200
    pools = PoolStatusList.model_validate(response.json()).pools
    assert [(p.pool_id, p.ready, p.breaker_open, p.engine_version) for p in pools] == [
        ("mock", True, False, "b0-mock")
    ]
    replica = pools[0].replicas[0]
    assert (replica.replica_id, replica.state, replica.slots_total) == ("mock-r0", "ready", 1)
    assert replica.model_digest == pools[0].model_digest is not None


@pytest.mark.req("ORCH-6014", "ORCH-6004", "ORCH-5004")
async def test_health_is_open_by_default_and_says_cpu_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/health")
    assert response.status_code == 200
    health = NodeHealth.model_validate(response.json())
    assert (health.node_id, health.ready, health.cpu_only, health.devices, health.registered) == (
        "host-test",
        True,
        True,
        [],
        True,
    )


@pytest.mark.req("ORCH-6014")
async def test_health_and_metrics_can_be_closed(supervisor: Supervisor) -> None:
    async with client_for(supervisor, open_endpoints=()) as http:
        assert (await http.get("/v1/health")).status_code == 401
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers=AUTH)).status_code == 200


@pytest.mark.req("ORCH-1102", "ORCH-1202")
async def test_pool_health_and_unknown_pool(client: httpx.AsyncClient) -> None:
    health = await client.get("/v1/pools/mock/health", headers=AUTH)
    assert PoolHealth.model_validate(health.json()).ready
    missing = await client.get("/v1/pools/nope/health", headers={**AUTH, "X-Correlation-Id": "req-42"})
    assert missing.status_code == 404
    assert missing.headers["X-Correlation-Id"] == "req-42"
    assert missing.json()["code"] == "NOT_FOUND" and missing.json()["correlation_id"] == "req-42"


@pytest.mark.req("ORCH-1103", "ORCH-6011")
async def test_drain_is_idempotent_and_the_sooner_deadline_applies(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/pools/mock/drain", headers=AUTH, json={"deadline_ms": 50000})
    assert first.status_code == 202
    assert first.json() == {"pool_id": "mock", "draining": True, "deadline_ms": 50000}
    later = await client.post("/v1/pools/mock/drain", headers=AUTH, json={"deadline_ms": 90000})
    assert (later.status_code, later.json()["deadline_ms"]) == (202, 50000)
    sooner = await client.post("/v1/pools/mock/drain", headers=AUTH, json={"deadline_ms": 20000})
    assert (sooner.status_code, sooner.json()["deadline_ms"]) == (202, 20000)
    health = (await client.get("/v1/pools/mock/health", headers=AUTH)).json()
    assert health["draining"] is True and health["ready"] is False


@pytest.mark.req("ORCH-1103")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"deadline_ms": "5"}, "deadline_ms"),
        ({"deadline": 5}, "deadline"),
        ({"deadline_ms": -1}, "deadline_ms"),
    ],
)
async def test_malformed_drain_body_is_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/v1/pools/mock/drain", headers=AUTH, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_PARAMS"
    assert response.json()["message"].startswith(field)


@pytest.mark.req("ORCH-1104", "ORCH-6002", "ORCH-6012")
async def test_reload_to_an_unsupported_scheme_is_409_and_the_pool_keeps_serving(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/pools/mock/reload", headers=AUTH, json={"new_model_ref": "hf:org/model"}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "CONFLICT" and body["pool_id"] == "mock"
    assert "scheme 'hf' is not supported" in body["message"]
    pools = (await client.get("/v1/pools", headers=AUTH)).json()["pools"]
    assert pools[0]["ready"] is True and pools[0]["replicas"][0]["replica_id"] == "mock-r0"


@pytest.mark.req("ORCH-1104", "ORCH-6012")
async def test_reload_switches_to_a_new_replica_set(client: httpx.AsyncClient, tmp_path: Path) -> None:
    other = tmp_path / "other.gguf"
    other.write_bytes(b"other mock weights")
    response = await client.post("/v1/pools/mock/reload", headers=AUTH, json={"new_model_ref": str(other)})
    assert response.status_code == 200
    body = response.json()
    assert (body["pool_id"], body["model_ref"], body["engine_version"], body["replicas_ready"]) == (
        "mock",
        str(other),
        "b0-mock",
        1,
    )
    assert body["model_digest"] == "sha256:" + hashlib.sha256(b"other mock weights").hexdigest()


@pytest.mark.req("ORCH-6014", "ORCH-8001")
async def test_metrics_expose_exactly_the_spec_families(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    spec = spec_metrics()
    exposed = {f"{name}_total" if f.type == "counter" else name: f for name, f in families.items()}
    assert set(exposed) == set(spec)
    for name, family in exposed.items():
        kind, labels, help_text = spec[name]
        assert (family.type, family.documentation) == (kind, help_text), name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, name
    ready = [s for s in families["poolmgr_replica_ready"].samples if s.labels["replica_id"] == "mock-r0"]
    assert [s.value for s in ready] == [1.0]
    assert families["poolmgr_gpu_devices"].samples[0].value == 0.0
    loads = families["poolmgr_model_load_seconds"].samples
    assert any(s.name.endswith("_count") and s.value == 1.0 for s in loads)


@pytest.mark.req("ORCH-1082", "ORCH-6014")
async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/pools/mock/drain", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.req("ORCH-1081", "ORCH-6014")
async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/pools/mock/reload", headers=AUTH, json={"new_model_ref": "x" * 70_000})
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
