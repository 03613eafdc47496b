"""The OpenAPI contracts are valid OpenAPI 3.1 documents and follow the project's contract conventions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from orchestratord.http.foreign_errors import ANTHROPIC_PATHS, OPENAI_PATHS

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
CONTRACTS = ("data", "control", "pool")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
REQ_ID = re.compile(r"^ORCH-(\d{4})$")
# The allocated ID ranges of the requirement areas.
REQ_RANGES = ((1000, 1299), (2000, 2499), (3000, 3599), (4000, 4599), (5000, 5099), (6000, 6099),
              (7000, 7099), (8000, 8099), (9000, 9099))  # fmt: skip


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((OPENAPI_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    return document


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s until a non-reference object."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


@pytest.mark.req("ORCH-1080")
@pytest.mark.parametrize("name", CONTRACTS)
def test_contract_validates_against_the_openapi_3_1_schema(name: str) -> None:
    document = load(name)

    errors = [f"{e.instance_path}: {e.message}" for e in OPENAPI_31_VALIDATOR.iter_errors(document)]

    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == "1.0.0"
    assert errors == []


@pytest.mark.req("ORCH-1080", "ORCH-9014")
@pytest.mark.parametrize("name", CONTRACTS)
def test_schemathesis_loads_every_operation(name: str) -> None:
    document = load(name)

    results = list(schemathesis.openapi.from_dict(document).get_all_operations())
    loaded = [result.ok() for result in results if isinstance(result, Ok)]

    assert len(loaded) == len(results), [result for result in results if not isinstance(result, Ok)]
    assert sorted(f"{op.method.upper()} {op.path}" for op in loaded) == sorted(
        f"{method} {path}" for method, path, _ in operations(document)
    )


@pytest.mark.req("ORCH-1080")
@pytest.mark.parametrize("name", CONTRACTS)
def test_every_operation_has_an_operation_id_and_requirement_ids(name: str) -> None:
    ops = operations(load(name))
    operation_ids = [op.get("operationId") for _, _, op in ops]
    bad_ids: list[str] = []
    for method, path, op in ops:
        req_ids = op.get("x-req-id")
        if not isinstance(req_ids, list) or not req_ids:
            bad_ids.append(f"{method} {path}: no x-req-id")
            continue
        for req_id in req_ids:
            match = REQ_ID.match(str(req_id))
            if match is None or not any(lo <= int(match[1]) <= hi for lo, hi in REQ_RANGES):
                bad_ids.append(f"{method} {path}: {req_id!r}")

    assert all(operation_ids), operation_ids
    assert len(set(operation_ids)) == len(operation_ids)
    assert bad_ids == []


@pytest.mark.req("ORCH-1201", "ORCH-1202", "ORCH-1064")
@pytest.mark.parametrize("name", CONTRACTS)
def test_every_response_carries_the_correlation_id_and_errors_use_the_envelope(name: str) -> None:
    """The OpenAI-compatible paths answer errors in OpenAI's shape, the Messages API in Anthropic's; every
    other path, the envelope."""
    document = load(name)
    problems: list[str] = []
    for method, path, op in operations(document):
        expected = {
            **dict.fromkeys(OPENAI_PATHS, "OpenAIError"),
            **dict.fromkeys(ANTHROPIC_PATHS, "AnthropicError"),
        }.get(path, "ErrorEnvelope")
        for status, ref in op["responses"].items():
            response = resolve(document, ref)
            if "X-Correlation-Id" not in response.get("headers", {}):
                problems.append(f"{method} {path} {status}: no X-Correlation-Id header")
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                if schema != {"$ref": f"#/components/schemas/{expected}"}:
                    problems.append(f"{method} {path} {status}: body is not the {expected}")

    assert problems == []


@pytest.mark.req("ORCH-1204")
@pytest.mark.parametrize("name", CONTRACTS)
def test_429_responses_carry_retry_after_and_backoff_headers(name: str) -> None:
    document = load(name)
    seen = 0
    for _, _, op in operations(document):
        if "429" in op["responses"]:
            seen += 1
            headers = resolve(document, op["responses"]["429"])["headers"]
            retry_after = resolve(document, headers["Retry-After"])
            assert retry_after["schema"] == {"type": "integer", "minimum": 1}
            assert "X-Backoff-Ms" in headers

    assert seen > 0 or name != "data"


@pytest.mark.req("ORCH-1002", "ORCH-1080")
@pytest.mark.parametrize("name", CONTRACTS)
def test_request_bodies_refuse_unknown_fields(name: str) -> None:
    document = load(name)
    open_bodies: list[str] = []
    for method, path, op in operations(document):
        if "requestBody" in op:
            schema = resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
            if schema.get("additionalProperties") is not False:
                open_bodies.append(f"{method} {path}")

    assert open_bodies == []


@pytest.mark.req("ORCH-1001", "ORCH-1002")
def test_task_request_has_every_field_of_the_contract() -> None:
    schema = load("data")["components"]["schemas"]["TaskRequest"]

    assert set(schema["properties"]) == {
        "model_ref", "prompt", "messages", "max_tokens", "task_id", "session_id", "workload", "engine", "ctx",
        "priority", "deadline_ms", "seed", "determinism", "sampler_profile_version", "temperature", "top_p",
        "top_k", "stop", "expected_tokens", "kv_hint", "placement",
        # The chat route's tools and output powers (ORCH-1093).
        "tools", "tool_choice", "parallel_tool_calls", "response_format", "presence_penalty",
        "frequency_penalty", "logit_bias",
    }  # fmt: skip
    assert set(schema["required"]) == {"model_ref", "max_tokens"}
    assert schema["oneOf"] == [{"required": ["prompt"]}, {"required": ["messages"]}]
    assert schema["properties"]["seed"]["minimum"] == 0
    assert schema["properties"]["seed"]["maximum"] == 4294967295
    assert schema["properties"]["stop"]["maxItems"] == 4


@pytest.mark.req("ORCH-1010", "ORCH-1011")
def test_task_stream_is_an_event_stream_with_named_event_schemas() -> None:
    document = load("data")
    ok = document["paths"]["/v1/tasks/{id}/stream"]["get"]["responses"]["200"]

    assert list(ok["content"]) == ["text/event-stream"]
    assert {event: ref["$ref"].rsplit("/", 1)[-1] for event, ref in ok["x-sse-events"].items()} == {
        "started": "StartedEvent",
        "token": "TokenEvent",
        "metrics": "MetricsEvent",
        "end": "EndEvent",
        "error": "ErrorEvent",
    }
    assert document["components"]["schemas"]["MetricsEvent"]["additionalProperties"] is True
    assert set(document["components"]["schemas"]["TokenEvent"]["required"]) == {"t", "i"}


@pytest.mark.req("ORCH-1060", "ORCH-1061", "ORCH-1062", "ORCH-1063", "ORCH-3506")
def test_openai_facade_streams_and_takes_the_orchestrator_headers() -> None:
    document = load("data")
    paths = document["paths"]
    for path in ("/v1/completions", "/v1/chat/completions"):
        op = paths[path]["post"]
        headers = {
            resolve(document, p)["name"] for p in op["parameters"] if resolve(document, p)["in"] == "header"
        }
        assert {"X-Orch-Priority", "X-Orch-Session-Id", "X-Orch-Determinism"} <= headers
        assert set(op["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert "get" in paths["/v1/models"]


@pytest.mark.req("ORCH-1120", "ORCH-5002", "ORCH-5003", "ORCH-6014")
def test_security_schemes_separate_admin_keys_and_node_tokens() -> None:
    control = load("control")
    node_ops = {path for _, path, op in operations(control) if {"nodeToken": []} in op.get("security", [])}

    assert control["security"] == [{"adminKey": []}]
    assert node_ops == {"/v1/nodes/register", "/v1/nodes/{id}/heartbeat", "/v1/nodes/{id}"}
    pool = load("pool")
    optional = {path for _, path, op in operations(pool) if op.get("security") == [{}, {"nodeToken": []}]}
    assert pool["security"] == [{"nodeToken": []}]
    assert optional == {"/v1/health", "/metrics"}
    assert all("security" not in op for _, path, op in operations(pool) if path not in optional)


@pytest.mark.req("ORCH-1080", "ORCH-1081", "ORCH-5002", "ORCH-1207")
@pytest.mark.parametrize(("name", "always"), [("data", {"400", "401", "403", "413", "500"}),
                                              ("control", {"400", "401", "403", "413", "500"}),
                                              ("pool", {"400", "401", "500"})])  # fmt: skip
def test_every_operation_documents_the_statuses_any_request_can_get(name: str, always: set[str]) -> None:
    document = load(name)
    missing = {
        f"{method} {path}": sorted(always - set(op["responses"]))
        for method, path, op in operations(document)
        if not always <= set(op["responses"])
    }
    unauthorized = resolve(document, document["components"]["responses"]["Unauthorized"])

    assert missing == {}
    assert unauthorized["headers"]["WWW-Authenticate"]["schema"] == {"type": "string", "const": "Bearer"}


@pytest.mark.req("ORCH-1080", "ORCH-1082")
@pytest.mark.parametrize("name", ["data", "control"])
def test_405_is_documented_once_as_a_shared_response_with_allow(name: str) -> None:
    response = load(name)["components"]["responses"]["MethodNotAllowed"]
    assert response["headers"]["Allow"]["required"] is True
    assert response["content"]["application/json"]["example"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.req("ORCH-1104", "ORCH-6002", "ORCH-6012")
@pytest.mark.parametrize("name", ["pool", "control"])
def test_a_reload_with_an_unusable_model_ref_is_documented_as_409(name: str) -> None:
    document = load(name)
    reload = document["paths"]["/v1/pools/{id}/reload"]["post"]
    bad_request = resolve(document, reload["responses"]["400"])
    example = bad_request["content"]["application/json"]["example"]
    assert "model_ref" not in bad_request["description"] and "model_ref" not in example["message"]
    assert "is 400" not in reload["description"]
    assert "409" in reload["responses"] and "model_ref" in reload["description"].split("409", 1)[1]
