"""The SDK sends only the TaskRequest fields the caller set, so the server's defaults apply: a task is
strict only when the caller asks for it (ORCH-3506, ORCH-9101)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from contracts.api_types.data import TaskRequest
from tests.sdk.test_retries import ADMITTED, BODY
from tools.openapi_client import Client


def sent_body(request: TaskRequest | dict[str, Any]) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    def answer(http_request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(http_request.content))
        return httpx.Response(202, json=ADMITTED)

    with Client("http://o.test", transport=httpx.MockTransport(answer)) as client:
        client.submit(request)
    return sent[0]


@pytest.mark.req("ORCH-3506", "ORCH-9101")
@pytest.mark.parametrize("request_form", ["mapping", "model"])
def test_a_submit_without_determinism_leaves_the_mode_to_the_server(request_form: str) -> None:
    request = BODY if request_form == "mapping" else TaskRequest.model_validate(BODY)
    assert sent_body(request) == BODY


@pytest.mark.req("ORCH-3506", "ORCH-9101")
def test_a_submit_asking_for_strict_sends_it() -> None:
    assert sent_body({**BODY, "determinism": "strict"}) == {**BODY, "determinism": "strict"}
