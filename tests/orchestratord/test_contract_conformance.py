"""The served operations, their success codes and the statuses they answer equal the OpenAPI contracts
(ORCH-1080): data.yaml and control.yaml together, nothing undocumented and nothing missing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from contracts.config_schema.common import sha256_hex
from orchestratord.app import create_app
from tests.orchestratord.orchd_harness import MODEL, Daemon, make_config, running_daemon

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
# Documented operations not served yet, with the part of the daemon that will serve them (none left).
PENDING: dict[tuple[str, str], str] = {}
KEY = "conformance-key"


def documented() -> dict[tuple[str, str], set[int]]:
    operations: dict[tuple[str, str], set[int]] = {}
    for name in ("data.yaml", "control.yaml"):
        document = yaml.safe_load((CONTRACTS / name).read_text(encoding="utf-8"))
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method in ("get", "post", "put", "delete", "patch"):
                    operations[(method.upper(), path)] = {int(code) for code in operation["responses"]}
    return operations


def served() -> dict[tuple[str, str], int]:
    """Every (method, path) the app routes, with its success status, from FastAPI's own route table."""
    app = create_app(make_config())
    routes: dict[tuple[str, str], int] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            success = [int(code) for code in operation["responses"] if int(code) < 300]
            routes[(method.upper(), path)] = success[0]
    return routes


@pytest.mark.req("ORCH-1080")
def test_served_operations_are_documented_and_documented_ones_are_served_or_pending() -> None:
    contract, routes = documented(), served()
    assert set(routes) <= set(contract), set(routes) - set(contract)
    missing = set(contract) - set(routes)
    assert missing <= set(PENDING), missing - set(PENDING)
    assert not set(routes) & set(PENDING), "served now: remove it from PENDING"


@pytest.mark.req("ORCH-1080")
def test_success_codes_equal_the_contract() -> None:
    contract = documented()
    for operation, status in served().items():
        success = {code for code in contract[operation] if code < 300}
        assert success == {status}, operation


async def probe(daemon: Daemon, method: str, path: str, **kwargs: object) -> int:
    return (await daemon.client.request(method, path, **kwargs)).status_code  # type: ignore[arg-type]


@pytest.mark.req("ORCH-1080", "ORCH-1081")
async def test_answered_statuses_are_documented_for_each_operation() -> None:
    contract = documented()
    config = make_config(
        api_keys=[{"sha256": sha256_hex(KEY), "tenant": "t"}],
        open_endpoints={"metrics": False, "healthz": False, "readyz": False},
        limits={"max_body_bytes": 4096},
    )
    auth = {"authorization": f"Bearer {KEY}"}
    async with running_daemon(config=config, headers=auth) as daemon:
        task_id = (await daemon.submit(max_tokens=2, session_id=str(uuid.uuid4()))).json()["task_id"]
        session_id = daemon.services.registry.get(task_id).spec.session_id
        await daemon.wait_state(task_id, "succeeded")
        unknown = str(uuid.uuid4())
        no_auth = {"authorization": ""}
        task_body = {"model_ref": MODEL, "prompt": "x", "max_tokens": 1}
        cases: list[tuple[str, str, str, dict[str, object]]] = [
            ("POST", "/v1/tasks", "/v1/tasks", {"json": task_body}),
            ("POST", "/v1/tasks", "/v1/tasks", {"json": {**task_body, "max_tokens": "1"}}),
            ("POST", "/v1/tasks", "/v1/tasks", {"content": b"x" * 5000}),
            ("POST", "/v1/tasks", "/v1/tasks", {"json": {**task_body, "model_ref": "none"}}),
            ("POST", "/v1/tasks", "/v1/tasks", {"json": task_body, "headers": no_auth}),
            ("POST", "/v1/tasks", "/v1/tasks", {"json": {**task_body, "task_id": task_id}}),
        ]
        for template, concrete in (
            ("/v1/tasks/{id}", f"/v1/tasks/{task_id}"),
            ("/v1/tasks/{id}/stream", f"/v1/tasks/{task_id}/stream"),
            ("/v1/sessions/{id}", f"/v1/sessions/{session_id}"),
        ):
            cases += [
                ("GET", template, concrete, {}),
                ("GET", template, concrete.replace(task_id, unknown).replace(str(session_id), unknown), {}),
                ("GET", template, concrete.replace(task_id, "nope").replace(str(session_id), "nope"), {}),
                ("GET", template, concrete, {"headers": no_auth}),
            ]
        cases += [
            (
                "GET",
                "/v1/tasks/{id}/stream",
                f"/v1/tasks/{task_id}/stream",
                {"headers": {"Last-Event-ID": "x"}},
            ),
            ("POST", "/v1/tasks/{id}/cancel", f"/v1/tasks/{task_id}/cancel", {}),
            ("POST", "/v1/tasks/{id}/cancel", f"/v1/tasks/{unknown}/cancel", {}),
            ("POST", "/v1/tasks/{id}/cancel", "/v1/tasks/nope/cancel", {}),
            ("POST", "/v1/tasks/{id}/cancel", f"/v1/tasks/{task_id}/cancel", {"headers": no_auth}),
            ("DELETE", "/v1/sessions/{id}", f"/v1/sessions/{unknown}", {}),
            ("DELETE", "/v1/sessions/{id}", "/v1/sessions/nope", {}),
            ("DELETE", "/v1/sessions/{id}", f"/v1/sessions/{session_id}", {"headers": no_auth}),
        ]
        for path in ("/v1/capabilities", "/metrics", "/healthz", "/readyz"):
            cases += [("GET", path, path, {}), ("GET", path, path, {"headers": no_auth})]
        seen: dict[tuple[str, str], set[int]] = {}
        for method, template, concrete, kwargs in cases:
            status = await probe(daemon, method, concrete, **kwargs)
            assert status in contract[(method, template)], (method, concrete, kwargs, status)
            seen.setdefault((method, template), set()).add(status)
        assert {202, 400, 401, 409, 413, 503} <= seen[("POST", "/v1/tasks")]


@pytest.mark.req("ORCH-1080", "ORCH-1081", "ORCH-1003")
async def test_every_operation_documents_its_over_long_header_and_over_limit_body_answers() -> None:
    contract = documented()
    # Without API keys every caller is admin; the node token also passes the node routes, whose credentials
    # are decided before the body size like every other route's (ORCH-1008).
    node_token = "node-secret"
    config = make_config(
        limits={"max_body_bytes": 1024, "max_header_value_bytes": 256}, node_tokens=[sha256_hex(node_token)]
    )
    async with running_daemon(config=config, headers={"authorization": f"Bearer {node_token}"}) as daemon:
        for (method, template), statuses in sorted(contract.items()):
            concrete = template.replace("{id}", str(uuid.uuid4()))
            header = await probe(daemon, method, concrete, headers={"x-long": "v" * 512})
            body = await probe(daemon, method, concrete, content=b"x" * 4096)
            assert (header, body) == (400, 413), (method, template)
            assert {400, 413} <= statuses, (method, template)
