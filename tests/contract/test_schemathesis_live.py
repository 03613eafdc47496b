"""schemathesis against the live app (ORCH-9014): every operation of `data.yaml` and `control.yaml` is
called on a running orchestratord (uvicorn on 127.0.0.1, mock engines in process) with generated valid
and invalid input, and every response must pass all of schemathesis' checks: no 5xx, status codes,
content types, headers and bodies as documented, invalid input refused with a 4xx envelope, valid input
accepted.

Generation is deterministic and bounded (`MAX_EXAMPLES` per operation and mode) so the gate takes about
a minute and a failure reproduces. The daemon is configured with one admin API key and one node token;
each call carries the credential its operation's `security` names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import Case, CheckFunction, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance, response_schema_conformance

from contracts.config_schema.common import sha256_hex
from mock_engine.faults import Faults
from tests.contract.live_app import LiveApp, Replica, live_app

OPENAPI = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
MAX_EXAMPLES = 12
ADMIN_KEY = "schemathesis-admin-key-0123456789"
NODE_TOKEN = "schemathesis-node-token-0123456789"
# Node registration carries engine and pool_managerd URLs that orchestratord then calls; generated hosts
# are rewritten to a closed loopback port so the gate never leaves 127.0.0.1.
LOOPBACK_URL = "http://127.0.0.1:9"
URL_FIELDS = frozenset({"api_url", "endpoint"})


def _schema(name: str) -> Any:
    schema = schemathesis.openapi.from_path(OPENAPI / name)
    schema.config.generation.update(
        modes=["positive", "negative"], max_examples=MAX_EXAMPLES, deterministic=True
    )
    return schema


data_schema = _schema("data.yaml")
control_schema = _schema("control.yaml")


@pytest.fixture(scope="module")
def live() -> Iterator[LiveApp]:
    config = {
        "api_keys": [{"sha256": sha256_hex(ADMIN_KEY), "tenant": "ops", "role": "admin"}],
        "node_tokens": [sha256_hex(NODE_TOKEN)],
        # A generated node's pool_managerd never answers: keep the forwarding timeout short.
        "timeouts": {"pool_forward_ms": 500, "pool_reload_ms": 1_000, "connect_ms": 200},
        # Limits as wide as the contract's schemas, so schema-valid sizes are not refused by configuration.
        "limits": {"max_tokens": 1_048_576, "max_stop_length": 1_024},
        "streaming": {"heartbeat_ms": 1_000, "disconnect_grace_ms": 0},
    }
    with live_app(config, [Replica("pool-a-r0", "pool-a", faults=Faults(token_delay_ms=1))]) as app:
        yield app


def _credential(case: Case) -> str:
    security = case.operation.definition.raw.get("security") or [{}]
    return NODE_TOKEN if "nodeToken" in security[0] else ADMIN_KEY


def _loopback_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: LOOPBACK_URL if key in URL_FIELDS and isinstance(item, str) else _loopback_urls(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_loopback_urls(item) for item in value]
    return value


# Operations whose input has rules JSON Schema cannot state: limits from configuration and the model's
# ctx (ORCH-1003, ORCH-1004), deadline feasibility (ORCH-2201), placement combinations (ORCH-3003) and
# unique ids in a registration (ORCH-1110). Schema-valid input may get a documented 400 envelope there.
SEMANTIC_RULES = frozenset(
    {
        ("POST", "/v1/tasks"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/messages"),
        ("POST", "/v1/responses"),
        ("POST", "/v1/embeddings"),
        ("POST", "/v1/nodes/register"),
        ("POST", "/v1/nodes/{id}/heartbeat"),
    }
)
# 503 is the contract's answer when nothing can serve (ORCH-1205), e.g. a generated engine no replica runs.
NOTHING_CAN_SERVE = frozenset({"POOL_UNAVAILABLE", "POOL_UNREADY", "REPLICA_EXHAUSTED"})


def _excluded_checks(case: Case, response: Response) -> list[CheckFunction]:
    """The checks that do not apply to this one response, each for the reason given above it."""
    excluded: list[CheckFunction] = []
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("text/event-stream"):
        # The contracts describe an SSE body as one string (OpenAPI 3.1 has no per-event schema), while
        # schemathesis validates each parsed event against it; tests/orchestratord and the SDK tests prove
        # the events. Status, content type and headers of streams are still checked.
        excluded.append(response_schema_conformance)
    operation = (case.operation.method.upper(), case.operation.path)
    if response.status_code == 400 and (operation in SEMANTIC_RULES or _integral_float(case.body)):
        excluded.append(positive_data_acceptance)
    if response.status_code == 503 and _envelope_code(response) in NOTHING_CAN_SERVE:
        excluded.append(not_a_server_error)
    return excluded


def _integral_float(value: Any) -> bool:
    """Whether a body holds a float like `5.0`: JSON Schema calls it an integer, while the daemons take
    JSON types strictly and refuse it where an integer is required (ORCH-1002)."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_integral_float(item) for item in value)
    return False


def _envelope_code(response: Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    inner = body.get("error")  # OpenAI's shape on the OpenAI-compatible routes (ORCH-1064)
    if isinstance(inner, dict) and isinstance(inner.get("code"), str):
        return inner["code"].upper()
    return body.get("code")


def _exercise(case: Case, live: LiveApp) -> None:
    if isinstance(case.body, dict | list):
        case.body = _loopback_urls(case.body)
    headers = {"Authorization": f"Bearer {_credential(case)}"}
    # Streams are read until the server ends them or the 5 s read timeout passes.
    response = case.call(base_url=live.url, headers=headers, timeout=5)
    case.validate_response(response, headers=headers, excluded_checks=_excluded_checks(case, response))


@pytest.mark.req("ORCH-9014", "ORCH-1080", "ORCH-1081", "ORCH-1201")
@data_schema.parametrize()
def test_data_plane_conforms_to_data_yaml(case: Case, live: LiveApp) -> None:
    _exercise(case, live)


@pytest.mark.req("ORCH-9014", "ORCH-1080", "ORCH-1081", "ORCH-1201")
@control_schema.parametrize()
def test_control_plane_conforms_to_control_yaml(case: Case, live: LiveApp) -> None:
    _exercise(case, live)
