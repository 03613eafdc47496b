"""The contracts' error codes are exactly the codes of the one error hierarchy, at the statuses it fixes."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.api_types import control, data, pool
from orchestrator_core.errors import error_classes

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
CONTRACTS = ("data", "control", "pool")
METHODS = ("get", "put", "post", "delete", "patch")


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((OPENAPI_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    return document


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def literal_values(alias: Any) -> set[str]:
    """The strings of a generated `Literal` type alias (possibly wrapped in `Annotated`)."""
    value = alias.__value__
    if typing.get_origin(value) is typing.Annotated:
        value = typing.get_args(value)[0]
    return set(typing.get_args(value))


@pytest.mark.req("ORCH-1203")
@pytest.mark.parametrize("name", CONTRACTS)
def test_error_code_enum_equals_the_error_hierarchy(name: str) -> None:
    schemas = load(name)["components"]["schemas"]

    assert set(schemas["ErrorCode"]["enum"]) == set(error_classes())
    assert schemas["ErrorEnvelope"]["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}


@pytest.mark.req("ORCH-1203", "ORCH-9001")
def test_generated_error_code_types_equal_the_error_hierarchy() -> None:
    assert literal_values(data.ErrorCode) == set(error_classes())
    assert literal_values(control.ErrorCode) == set(error_classes())
    assert literal_values(pool.ErrorCode) == set(error_classes())


@pytest.mark.req("ORCH-1201")
def test_error_envelope_fields_are_the_contracts() -> None:
    for name in CONTRACTS:
        envelope = load(name)["components"]["schemas"]["ErrorEnvelope"]
        fields = {"code", "message", "engine", "pool_id", "retriable", "retry_after_ms", "policy_label"}
        assert set(envelope["properties"]) == fields | {"correlation_id"}
        assert set(envelope["required"]) == {"code", "message", "retriable", "correlation_id"}


@pytest.mark.req("ORCH-1203", "ORCH-1204", "ORCH-1205")
@pytest.mark.parametrize("name", CONTRACTS)
def test_error_examples_use_a_code_of_the_status_they_document(name: str) -> None:
    document = load(name)
    classes = error_classes()
    mismatches: list[str] = []
    for path, item in document["paths"].items():
        for method in METHODS:
            for status, ref in item.get(method, {}).get("responses", {}).items():
                if not status.startswith(("4", "5")):
                    continue
                example = resolve(document, ref)["content"]["application/json"]["example"]
                # OpenAI's shape carries the code in lowercase inside `error` (ORCH-1064).
                code = example["error"]["code"].upper() if "error" in example else example["code"]
                if classes[code].http_status != int(status):
                    mismatches.append(f"{method.upper()} {path} {status}: {code}")

    assert mismatches == []


@pytest.mark.req("ORCH-1204")
def test_backpressure_policy_labels_are_the_contracts() -> None:
    for name in CONTRACTS:
        labels = load(name)["components"]["schemas"]["PolicyLabel"]["enum"]
        assert labels == ["reject", "drop-lru", "shed-low-priority", "quota"]
