"""The SDK raises one typed error per contract code, rebuilt from the envelope (ORCH-9103, ORCH-1203)."""

from __future__ import annotations

import httpx
import pytest

from orchestrator_core.errors import Internal, InvalidParams, NotFound, OrchError, error_classes
from tests.sdk.live_orchd import LiveOrchestratord
from tools.openapi_client import Client, OrchestratordUnreachable, RetryPolicy, envelope_of

TASK_ID = "00000000-0000-4000-8000-000000000001"


def _answering(status: int, body: dict[str, object] | bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


@pytest.mark.req("ORCH-9103", "ORCH-1203")
@pytest.mark.parametrize("code", sorted(error_classes()))
def test_each_error_code_raises_its_own_class_with_the_envelope_fields(code: str) -> None:
    cls = error_classes()[code]
    envelope = {
        "code": code,
        "message": f"because {code.lower()}",
        "engine": "llamacpp",
        "pool_id": "pool-a",
        "retriable": False,
        "retry_after_ms": 1500,
        "correlation_id": "corr-1",
    }
    transport = _answering(cls.http_status, envelope)
    with Client("http://orchd.test", transport=transport) as client, pytest.raises(OrchError) as raised:
        client.status(TASK_ID)
    error = raised.value
    assert type(error) is cls
    assert (error.code, error.message) == (code, f"because {code.lower()}")
    assert (error.engine, error.pool_id, error.retry_after_ms) == ("llamacpp", "pool-a", 1500)
    carried = envelope_of(error)
    assert carried is not None and carried.correlation_id == "corr-1"


@pytest.mark.req("ORCH-9103")
def test_a_body_that_is_not_an_envelope_is_internal_with_the_status() -> None:
    transport = _answering(502, b"<html>bad gateway</html>")
    with Client("http://orchd.test", transport=transport) as client, pytest.raises(Internal) as raised:
        client.capabilities()
    assert "HTTP 502" in raised.value.message and "bad gateway" in raised.value.message


@pytest.mark.req("ORCH-9103")
def test_a_success_body_outside_the_contract_is_internal() -> None:
    transport = _answering(200, {"api_version": 1})
    with Client("http://orchd.test", transport=transport) as client, pytest.raises(Internal) as raised:
        client.capabilities()
    assert "Capabilities" in raised.value.message


@pytest.mark.req("ORCH-9103", "ORCH-1020")
def test_unknown_task_on_the_live_daemon_is_not_found(orchd: LiveOrchestratord) -> None:
    with Client(orchd.url) as client, pytest.raises(NotFound) as raised:
        client.status(TASK_ID)
    envelope = envelope_of(raised.value)
    assert envelope is not None and envelope.correlation_id


@pytest.mark.req("ORCH-9103", "ORCH-1002")
def test_a_request_outside_the_contract_is_refused_before_sending() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    with Client("http://orchd.test", transport=transport) as client, pytest.raises(InvalidParams) as raised:
        client.submit({"model_ref": "m", "prompt": "p", "max_tokens": "1"})
    assert "max_tokens" in raised.value.message
    assert sent == []


@pytest.mark.req("ORCH-9107")
def test_a_closed_port_raises_unreachable_without_retrying() -> None:
    sleeps: list[float] = []
    with (
        Client("http://127.0.0.1:1", retry=RetryPolicy(), sleep=sleeps.append) as client,
        pytest.raises(OrchestratordUnreachable) as raised,
    ):
        client.capabilities()
    assert "127.0.0.1:1" in str(raised.value)
    assert sleeps == []


@pytest.mark.req("ORCH-9107")
def test_url_and_api_key_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_URL", "http://orchd.env:9999")
    monkeypatch.setenv("ORCH_API_KEY", "secret-key")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with Client(transport=httpx.MockTransport(handler)) as client:
        client.cancel(TASK_ID)
    assert str(seen[0].url) == f"http://orchd.env:9999/v1/tasks/{TASK_ID}/cancel"
    assert seen[0].headers["authorization"] == "Bearer secret-key"
