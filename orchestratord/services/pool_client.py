"""Forwarding of the control plane's pool operations to the owning pool_managerd (ORCH-1120, ORCH-1105).

Calls go to the node's own API (`contracts/openapi/pool.yaml`) with the node token it registered with and
the request's correlation id. A node that cannot be reached, times out or answers without an envelope is
`POOL_UNAVAILABLE` naming the pool; an envelope it answers is raised again as the same typed error, so the
caller gets the node's status and message unchanged. A 401/403 from the node means orchestratord's copy of
the node token was refused, which the admin caller cannot fix: that is POOL_UNAVAILABLE too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from contracts.config_schema.orchestratord import Timeouts
from orchestrator_core.errors import OrchError, PoolUnavailable, error_classes

from .nodes import Node

_NOT_RELAYED = frozenset({"UNAUTHORIZED", "FORBIDDEN"})
UNAVAILABLE_RETRY_MS = 5_000


@dataclass(frozen=True, slots=True)
class ForwardTimeouts:
    """Timeouts of forwarded calls: connect, every call but reload, and reload (it waits for readiness)."""

    connect_s: float = 2.0
    forward_s: float = 10.0
    reload_s: float = 600.0


def build_pool_http(
    timeouts: ForwardTimeouts, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one HTTP client that talks to every node's pool_managerd."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeouts.forward_s, connect=timeouts.connect_s),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        transport=transport,
        trust_env=False,
        follow_redirects=False,
    )


class PoolClient:
    """Health, drain and reload of a pool on its node."""

    def __init__(self, http: httpx.AsyncClient, timeouts: ForwardTimeouts) -> None:
        self._http = http
        self._timeouts = timeouts

    async def health(self, node: Node, pool_id: str, correlation_id: str) -> dict[str, Any]:
        return await self._call(node, "GET", f"/v1/pools/{pool_id}/health", pool_id, correlation_id)

    async def drain(
        self, node: Node, pool_id: str, deadline_ms: int | None, correlation_id: str
    ) -> dict[str, Any]:
        body: dict[str, object] = {} if deadline_ms is None else {"deadline_ms": deadline_ms}
        return await self._call(node, "POST", f"/v1/pools/{pool_id}/drain", pool_id, correlation_id, body)

    async def reload(
        self, node: Node, pool_id: str, new_model_ref: str, correlation_id: str
    ) -> dict[str, Any]:
        return await self._call(
            node,
            "POST",
            f"/v1/pools/{pool_id}/reload",
            pool_id,
            correlation_id,
            {"new_model_ref": new_model_ref},
            timeout_s=self._timeouts.reload_s,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        node: Node,
        method: str,
        path: str,
        pool_id: str,
        correlation_id: str,
        body: dict[str, object] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        timeout = httpx.Timeout(timeout_s or self._timeouts.forward_s, connect=self._timeouts.connect_s)
        headers = {"Authorization": f"Bearer {node.token}", "X-Correlation-Id": correlation_id}
        try:
            response = await self._http.request(
                method, node.api_url + path, json=body, headers=headers, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise _unavailable(node, pool_id, f"did not answer within {timeout.read:g} s") from exc
        except httpx.HTTPError as exc:
            raise _unavailable(node, pool_id, f"cannot be reached ({type(exc).__name__})") from exc
        answer = _json_object(response.content)
        if response.is_success and answer is not None:
            return answer
        raise relayed_error(node, pool_id, response.status_code, answer)


def relayed_error(node: Node, pool_id: str, status: int, body: dict[str, Any] | None) -> OrchError:
    """The typed error of a node's envelope, or POOL_UNAVAILABLE when it is not one we can pass on."""
    envelope = body or {}
    code, message = envelope.get("code"), envelope.get("message")
    known = error_classes()
    if not isinstance(code, str) or code not in known or code in _NOT_RELAYED or not isinstance(message, str):
        return _unavailable(node, pool_id, f"answered HTTP {status} without a usable error envelope")
    retry_after_ms = envelope.get("retry_after_ms")
    retriable = envelope.get("retriable")
    return known[code](
        message,
        pool_id=pool_id,
        retriable=retriable if isinstance(retriable, bool) else None,
        engine=_text(envelope.get("engine")),
        retry_after_ms=retry_after_ms if isinstance(retry_after_ms, int) else None,
        policy_label=_text(envelope.get("policy_label")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _unavailable(node: Node, pool_id: str, what: str) -> PoolUnavailable:
    return PoolUnavailable(
        f"node {node.node_id} of pool {pool_id} {what}; retry later",
        pool_id=pool_id,
        retry_after_ms=UNAVAILABLE_RETRY_MS,
    )


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def pool_client_for(timeouts: Timeouts, transport: httpx.AsyncBaseTransport | None = None) -> PoolClient:
    """The PoolClient with the configured connect, forward and reload timeouts (ORCH-1105)."""
    settings = ForwardTimeouts(
        connect_s=timeouts.connect_ms / 1000,
        forward_s=timeouts.pool_forward_ms / 1000,
        reload_s=timeouts.pool_reload_ms / 1000,
    )
    return PoolClient(build_pool_http(settings, transport), settings)
