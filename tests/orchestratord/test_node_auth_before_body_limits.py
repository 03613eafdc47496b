"""Node-token routes decide their credentials from the headers before the body is read (ORCH-1008): an
oversized body is answered 401/403 to a caller who may not call the route, and 413 only to one who may.
Registration and heartbeats take only a node token, so an API key there is unknown credentials (ORCH-5003);
deleting a node takes the node's token or an admin key (ORCH-1112)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.orchestratord.orchd_harness import Daemon, running_daemon
from tests.orchestratord.test_auth import ADMIN_KEY, CLIENT_KEY, NODE_TOKEN, keyed_config
from tests.orchestratord.test_auth_before_body_limits import (
    MAX_BODY,
    OVERSIZED,
    assert_envelope,
    chunked,
    headers,
)

NODE_BODY_ROUTES = [("POST", "/v1/nodes/register"), ("POST", "/v1/nodes/host-1/heartbeat")]


@pytest.fixture
async def keyed() -> AsyncIterator[Daemon]:
    async with running_daemon(config=keyed_config(limits={"max_body_bytes": MAX_BODY})) as daemon:
        yield daemon


@pytest.mark.req("ORCH-1008", "ORCH-5003")
@pytest.mark.parametrize(("method", "path"), NODE_BODY_ROUTES)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_body_to_a_node_route_without_a_node_token_is_401_not_413(
    keyed: Daemon, method: str, path: str, framing: str
) -> None:
    for key, cid in [(None, "none"), ("forged", "forged"), (CLIENT_KEY, "client"), (ADMIN_KEY, "admin")]:
        content = OVERSIZED if framing == "content-length" else chunked(OVERSIZED)
        answer = await keyed.client.request(method, path, content=content, headers=headers(key, cid))
        body = assert_envelope(answer, 401, "UNAUTHORIZED", cid)
        assert "node token" in body["message"]
        assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.req("ORCH-1008", "ORCH-1003", "ORCH-5003")
@pytest.mark.parametrize(("method", "path"), NODE_BODY_ROUTES)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_body_with_the_node_token_is_413(
    keyed: Daemon, method: str, path: str, framing: str
) -> None:
    content = OVERSIZED if framing == "content-length" else chunked(OVERSIZED)
    answer = await keyed.client.request(method, path, content=content, headers=headers(NODE_TOKEN, "node"))
    body = assert_envelope(answer, 413, "PAYLOAD_TOO_LARGE", "node")
    assert str(MAX_BODY) in body["message"]


@pytest.mark.req("ORCH-1008", "ORCH-1112", "ORCH-5002")
@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (None, 401, "UNAUTHORIZED"),
        ("forged", 401, "UNAUTHORIZED"),
        (CLIENT_KEY, 403, "FORBIDDEN"),
        (ADMIN_KEY, 413, "PAYLOAD_TOO_LARGE"),
        (NODE_TOKEN, 413, "PAYLOAD_TOO_LARGE"),
    ],
)
async def test_deleting_a_node_with_an_oversized_body_needs_the_node_token_or_an_admin_key_first(
    keyed: Daemon, key: str | None, status: int, code: str
) -> None:
    answer = await keyed.client.request(
        "DELETE", "/v1/nodes/host-1", content=OVERSIZED, headers=headers(key, "delete")
    )
    assert_envelope(answer, status, code, "delete")
