"""Authentication and role are decided from the headers before the body is read (ORCH-1008): an oversized
or malformed body is answered 401/403 when the credentials fail, and 413/400 only for a caller who may
make the request. Header limits come first, since the credentials are themselves a header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.orchestratord.orchd_harness import MODEL, Daemon, error_code, running_daemon
from tests.orchestratord.test_auth import ADMIN_KEY, CLIENT_KEY, NODE_TOKEN, keyed_config

MAX_BODY = 1024
OVERSIZED = b'{"prompt": "' + b"x" * (4 * MAX_BODY) + b'"}'


async def chunked(body: bytes) -> AsyncIterator[bytes]:
    """The body in small chunks without a Content-Length: the limit is met while reading."""
    for start in range(0, len(body), 256):
        yield body[start : start + 256]


def headers(key: str | None, cid: str) -> dict[str, str]:
    sent = {"content-type": "application/json", "x-correlation-id": cid}
    if key is not None:
        sent["authorization"] = f"Bearer {key}"
    return sent


def assert_envelope(answer: httpx.Response, status: int, code: str, cid: str) -> dict[str, Any]:
    assert (answer.status_code, error_code(answer.json())) == (status, code), answer.text
    body: dict[str, Any] = answer.json()
    assert answer.headers["x-correlation-id"] == cid
    if "error" in body:  # OpenAI's shape on its routes (ORCH-1064)
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        return body
    assert body["correlation_id"] == cid
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["retriable"], bool)
    return body


@pytest.fixture
async def keyed() -> AsyncIterator[Daemon]:
    async with running_daemon(config=keyed_config(limits={"max_body_bytes": MAX_BODY})) as daemon:
        yield daemon


SUBMISSIONS = ["/v1/tasks", "/v1/chat/completions", "/v1/completions"]


@pytest.mark.req("ORCH-1008", "ORCH-1207")
@pytest.mark.parametrize("path", SUBMISSIONS)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_body_without_a_key_is_401_not_413(keyed: Daemon, path: str, framing: str) -> None:
    content = OVERSIZED if framing == "content-length" else chunked(OVERSIZED)
    answer = await keyed.client.post(path, content=content, headers=headers(None, "no-key-1"))
    assert_envelope(answer, 401, "UNAUTHORIZED", "no-key-1")
    assert answer.headers["www-authenticate"] == "Bearer"
    forged = await keyed.client.post(path, content=OVERSIZED, headers=headers("forged", "no-key-2"))
    assert_envelope(forged, 401, "UNAUTHORIZED", "no-key-2")
    assert forged.headers["www-authenticate"] == "Bearer"


@pytest.mark.req("ORCH-1008", "ORCH-5002")
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_body_from_a_client_key_on_an_admin_route_is_403_not_413(
    keyed: Daemon, framing: str
) -> None:
    content = OVERSIZED if framing == "content-length" else chunked(OVERSIZED)
    answer = await keyed.client.post(
        "/v1/pools/pool-a/drain", content=content, headers=headers(CLIENT_KEY, "client-on-admin")
    )
    body = assert_envelope(answer, 403, "FORBIDDEN", "client-on-admin")
    assert "admin" in body["message"]
    assert "www-authenticate" not in answer.headers


@pytest.mark.req("ORCH-1008", "ORCH-5003")
async def test_an_oversized_body_with_a_node_token_on_the_data_plane_is_403(keyed: Daemon) -> None:
    answer = await keyed.client.post("/v1/tasks", content=OVERSIZED, headers=headers(NODE_TOKEN, "node-1"))
    assert_envelope(answer, 403, "FORBIDDEN", "node-1")


@pytest.mark.req("ORCH-1008", "ORCH-1003")
@pytest.mark.parametrize(
    ("path", "key"),
    [("/v1/tasks", CLIENT_KEY), ("/v1/chat/completions", CLIENT_KEY), ("/v1/pools/pool-a/drain", ADMIN_KEY)],
)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_body_from_a_caller_who_may_call_the_route_is_413(
    keyed: Daemon, path: str, key: str, framing: str
) -> None:
    content = OVERSIZED if framing == "content-length" else chunked(OVERSIZED)
    answer = await keyed.client.post(path, content=content, headers=headers(key, "too-big"))
    body = assert_envelope(answer, 413, "PAYLOAD_TOO_LARGE", "too-big")
    assert str(MAX_BODY) in body.get("error", body)["message"]


@pytest.mark.req("ORCH-1008")
async def test_malformed_json_without_a_key_is_401_and_with_a_key_400(keyed: Daemon) -> None:
    anonymous = await keyed.client.post("/v1/tasks", content=b'{"model_ref": ', headers=headers(None, "j-1"))
    assert_envelope(anonymous, 401, "UNAUTHORIZED", "j-1")
    keyed_answer = await keyed.client.post(
        "/v1/tasks", content=b'{"model_ref": ', headers=headers(CLIENT_KEY, "j-2")
    )
    assert_envelope(keyed_answer, 400, "INVALID_PARAMS", "j-2")


@pytest.mark.req("ORCH-1008", "ORCH-1003")
async def test_an_over_long_header_is_400_before_authentication(keyed: Daemon) -> None:
    sent = headers(None, "long-header") | {"x-padding": "a" * 20_000}
    answer = await keyed.client.post("/v1/tasks", content=OVERSIZED, headers=sent)
    assert_envelope(answer, 400, "INVALID_PARAMS", "long-header")


@pytest.mark.req("ORCH-1008", "ORCH-5004")
async def test_open_probes_need_no_key_and_still_refuse_an_oversized_body(keyed: Daemon) -> None:
    assert (await keyed.client.get("/healthz")).status_code == 200
    answer = await keyed.client.request("GET", "/metrics", content=OVERSIZED, headers=headers(None, "probe"))
    assert_envelope(answer, 413, "PAYLOAD_TOO_LARGE", "probe")


@pytest.mark.req("ORCH-1008", "ORCH-5002")
async def test_an_admitted_key_is_checked_once_and_its_tenant_reaches_admission(keyed: Daemon) -> None:
    body = {"model_ref": MODEL, "prompt": "x", "max_tokens": 1}
    admitted = await keyed.client.post(
        "/v1/tasks", json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"}
    )
    assert admitted.status_code == 202, admitted.text
    record = keyed.services.registry.get(admitted.json()["task_id"])
    assert record.spec.tenant == "team-a"
