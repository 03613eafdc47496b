"""The control plane (`contracts/openapi/control.yaml`): pools and nodes (ORCH-1101..1120, ORCH-5002,
ORCH-5003).

Pool operations need the `admin` role. Pools registered by a pool_managerd are forwarded to it
(`PoolClient`); pools of replicas from orchestratord's own configuration (listed with node_id `static`)
are answered from local state: drain stops placing tasks on them, reload is refused because no process
manager owns them. Node registration and heartbeats need a node token; a node may delete itself with its
token, an operator with an admin key. Every route declares its guard from `security` as a dependency, so the
edge decides the credentials before the body is read (ORCH-1008).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Request
from pydantic import ValidationError
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.responses import JSONResponse, Response

from contracts.api_types.control import (
    DrainRequest,
    Heartbeat,
    NodeRegistration,
    PoolHealth,
    ReloadRequest,
    ReloadResult,
)
from contracts.config_schema.orchestratord import StaticReplica
from http_edge.correlation import correlation_id
from orchestrator_core.errors import Conflict, NotFound, OrchError, PoolUnavailable

from ..http.security import Authenticator, Principal, Role
from ..services.nodes import REGISTER_PATH_SEGMENT, Node, NodePool, NodeRegistry
from ..services.pool_client import PoolClient
from ..services.replicas import Replica, ReplicaRegistry
from ..services.state import QueueStore, SharedNodeState

logger = logging.getLogger(__name__)

STATIC_NODE_ID = "static"
DEFAULT_DRAIN_MS = 30_000
# Replicas registered in-process (embedded engines, tests) have no URL; `.invalid` is reserved for that.
IN_PROCESS_ENDPOINT = "http://in-process.invalid"
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

PathId = Annotated[str, Path(pattern=IDENTIFIER, description="pool or node id")]


class NodeIdSegment(StringConvertor):
    """A node id path segment: anything but the literal `register`, so `/v1/nodes/register` is only the
    registration route and never a node's (ORCH-1080); a malformed id still reaches PathId's 400."""

    regex = f"(?!{REGISTER_PATH_SEGMENT}(?:/|$))[^/]+"


NODE_ID_CONVERTOR = "node_id"


# --- pools ---


class PoolDirectory:
    """Pools as the control plane shows them: registered by nodes, or from orchestratord's configuration."""

    def __init__(
        self,
        nodes: NodeRegistry,
        replicas: ReplicaRegistry,
        static_replicas: list[StaticReplica],
        queues: QueueStore | None = None,
    ) -> None:
        self.nodes = nodes
        self._replicas = replicas
        self._queues = queues
        self._endpoints = {replica.id: replica.base_url for replica in static_replicas}
        self._drain_deadlines: dict[str, int] = {}

    def static_pool_ids(self) -> list[str]:
        return sorted({r.pool_id for r in self._replicas.all() if r.spec.node_id is None})

    def static_replicas(self, pool_id: str) -> list[Replica]:
        return [r for r in self._replicas.of_pool(pool_id) if r.spec.node_id is None]

    def node_replicas(self, pool: NodePool) -> list[Replica]:
        found = (self._replicas.find(replica_id) for replica_id in pool.replica_ids)
        return [replica for replica in found if replica is not None]

    def summaries(self) -> list[dict[str, object]]:
        self.nodes.check_leases()
        now = self.nodes.now()
        listed = [
            self._node_summary(node, pool, node.live(now))
            for node in self.nodes.nodes()
            for pool in node.pools.values()
        ]
        listed.extend(self._static_summary(pool_id) for pool_id in self.static_pool_ids())
        return sorted(listed, key=lambda summary: str(summary["pool_id"]))

    def _node_summary(self, node: Node, pool: NodePool, live: bool) -> dict[str, object]:
        members = self.node_replicas(pool)
        last_error = pool.last_error
        if not live:
            last_error = f"node {node.node_id} missed its heartbeats (lease expired)"
        return self._summary(pool.pool_id, node.node_id, pool.engine, pool.model_ref, live, members) | {
            "draining": pool.draining or any(r.draining for r in members),
            "last_error": last_error,
        }

    def _static_summary(self, pool_id: str) -> dict[str, object]:
        members = self.static_replicas(pool_id)
        first = members[0].spec
        return self._summary(pool_id, STATIC_NODE_ID, first.engine, first.model_ref, True, members)

    def _summary(
        self, pool_id: str, node_id: str, engine: str, model_ref: str, live: bool, members: list[Replica]
    ) -> dict[str, object]:
        ready = [r for r in members if r.ready]
        errors = [r.last_error for r in members if r.last_error]
        summary: dict[str, object] = {
            "pool_id": pool_id,
            "node_id": node_id,
            "engine": engine,
            "model_ref": model_ref,
            "live": live,
            "ready": live and bool(ready),
            "draining": any(r.draining for r in members),
            "last_error": errors[0] if errors else None,
            "replicas_total": len(members),
            "replicas_ready": len(ready) if live else 0,
            "slots_total": sum(self._replicas.total_slots(r.replica_id) for r in members),
        }
        if self._queues is not None:  # ORCH-2010: the queue settings the pool's admissions meet
            queue = self._queues.config_of(pool_id)
            summary |= {"queue_capacity": queue.capacity, "queue_policy": queue.policy.value}
        return summary

    def static_health(self, pool_id: str) -> dict[str, object]:
        members = self.static_replicas(pool_id)
        summary = self._static_summary(pool_id)
        return {
            "pool_id": pool_id,
            "live": True,
            "ready": summary["ready"],
            "draining": summary["draining"],
            "last_error": summary["last_error"],
            "replicas": [self._replica_health(r) for r in members],
        }

    def _replica_health(self, replica: Replica) -> dict[str, object]:
        """A configured replica in pool_managerd's ReplicaHealth form; no process of ours, so no pid."""
        known_version = replica.props is not None or replica.spec.engine_version is not None
        endpoint = self._endpoints.get(replica.replica_id, IN_PROCESS_ENDPOINT)
        return {
            "replica_id": replica.replica_id,
            "state": "ready" if replica.ready else "unready",
            "ready": replica.ready,
            "endpoint": endpoint,
            "engine": replica.spec.engine,
            "engine_version": replica.engine_version if known_version else None,
            "model_digest": replica.model_digest,
            "slots_total": self._replicas.total_slots(replica.replica_id),
            "pid": None,
            "port": httpx.URL(endpoint).port or (443 if endpoint.startswith("https:") else 80),
            "restarts": 0,
            "last_exit_code": None,
            "last_error": replica.last_error,
        }

    def drain_static(self, pool_id: str, deadline_ms: int | None) -> dict[str, object]:
        """Stops placing tasks on a configured pool; a repeated drain keeps the earlier deadline."""
        requested = DEFAULT_DRAIN_MS if deadline_ms is None else deadline_ms
        effective = min(requested, self._drain_deadlines.get(pool_id, requested))
        self._drain_deadlines[pool_id] = effective
        for replica in self.static_replicas(pool_id):
            self._replicas.update(replica.replica_id, draining=True)
        return {"pool_id": pool_id, "draining": True, "deadline_ms": effective}

    def mark_draining(self, pool: NodePool) -> None:
        pool.draining = True
        for replica in self.node_replicas(pool):
            self._replicas.update(replica.replica_id, draining=True)

    async def adopt_reload(
        self, client: PoolClient, node: Node, answer: dict[str, Any], correlation_id: str
    ) -> None:
        """Reads the pool's new replica set from its node before the reload is answered, so the new model
        takes tasks at once (ORCH-1104); if the node cannot tell, its next registration brings the set."""
        try:
            result = ReloadResult.model_validate(answer)
            health = await client.health(node, result.pool_id, correlation_id)
            adopted = self.nodes.adopt_reloaded_set(node.node_id, result, PoolHealth.model_validate(health))
        except (OrchError, ValidationError) as exc:
            logger.warning(
                "pool %s reloaded; its new replica set waits for the node's registration (%s)",
                answer.get("pool_id"),
                exc,
            )
            return
        if not adopted:
            logger.warning(
                "pool %s reloaded; its node's health does not show the new set yet", result.pool_id
            )

    def locate(self, pool_id: str) -> tuple[Node, NodePool] | None:
        """The node and registration of a node pool; None for a configured pool; NotFound otherwise."""
        node = self.nodes.owner(pool_id)
        if node is not None:
            return node, node.pools[pool_id]
        if self.static_replicas(pool_id):
            return None
        raise NotFound(f"unknown pool {pool_id}; GET /v1/pools lists the pools")

    def live_owner(self, pool_id: str) -> tuple[Node, NodePool] | None:
        """Like `locate`, but POOL_UNAVAILABLE when the owning node's lease expired."""
        self.nodes.check_leases()
        located = self.locate(pool_id)
        if located is not None and not located[0].live(self.nodes.now()):
            node = located[0]
            raise PoolUnavailable(
                f"node {node.node_id} of pool {pool_id} missed its heartbeats (lease expired); retry later",
                pool_id=pool_id,
                retry_after_ms=int(node.heartbeat_interval_s * 1000),
            )
        return located


def pools_router(auth: Authenticator, pools: PoolDirectory, client: PoolClient) -> APIRouter:
    router = APIRouter(tags=["pools"])
    admin = Depends(auth.require(Role.ADMIN))

    @router.get("/v1/pools", operation_id="listPools")
    async def list_pools(_: Principal = admin) -> JSONResponse:
        return JSONResponse({"pools": pools.summaries()})

    @router.get("/v1/pools/{id}/health", operation_id="getPoolHealth")
    async def pool_health(id: PathId, request: Request, _: Principal = admin) -> JSONResponse:
        located = pools.live_owner(id)
        if located is None:
            return JSONResponse(pools.static_health(id))
        return JSONResponse(await client.health(located[0], id, correlation_id(request.scope)))

    @router.post("/v1/pools/{id}/drain", operation_id="drainPool", status_code=202)
    async def drain_pool(
        id: PathId, request: Request, body: DrainRequest | None = None, _: Principal = admin
    ) -> JSONResponse:
        given: Any = body.deadline_ms if body is not None else None
        deadline_ms = given if isinstance(given, int) else None
        located = pools.live_owner(id)
        if located is None:
            return JSONResponse(pools.drain_static(id, deadline_ms), status_code=202)
        node, pool = located
        answer = await client.drain(node, id, deadline_ms, correlation_id(request.scope))
        pools.mark_draining(pool)
        return JSONResponse(answer, status_code=202)

    @router.post("/v1/pools/{id}/reload", operation_id="reloadPool")
    async def reload_pool(
        id: PathId, body: ReloadRequest, request: Request, _: Principal = admin
    ) -> JSONResponse:
        located = pools.live_owner(id)
        if located is None:
            raise Conflict(
                f"pool {id} is served by replicas from orchestratord's configuration, which nothing can "
                "restart; change the configuration, or run the pool under a pool_managerd",
                pool_id=id,
            )
        node, cid = located[0], correlation_id(request.scope)
        answer = await client.reload(node, id, body.new_model_ref, cid)
        await pools.adopt_reload(client, node, answer, cid)
        return JSONResponse(answer)

    return router


# --- nodes ---


def lease_body(node: Node) -> dict[str, object]:
    return {
        "node_id": node.node_id,
        "lease_ms": int(node.lease_s * 1000),
        "heartbeat_interval_ms": int(node.heartbeat_interval_s * 1000),
    }


def node_info(node: Node, replicas: ReplicaRegistry, now: float) -> dict[str, object]:
    members = [
        replica
        for pool in node.pools.values()
        for replica in (replicas.find(replica_id) for replica_id in pool.replica_ids)
        if replica is not None
    ]
    live = node.live(now)
    remaining_ms = int((node.last_seen + node.lease_s - now) * 1000) if live else 0
    return {
        "node_id": node.node_id,
        "api_url": node.api_url,
        "live": live,
        "last_heartbeat_ms_ago": max(0, int((now - node.last_seen) * 1000)),
        "lease_expires_in_ms": max(0, remaining_ms),
        "pools": sorted(node.pools),
        "replicas_total": len(members),
        "replicas_ready": sum(1 for replica in members if replica.ready),
    }


def nodes_router(
    auth: Authenticator,
    nodes: NodeRegistry,
    replicas: ReplicaRegistry,
    shared: SharedNodeState | None = None,
) -> APIRouter:
    """`shared` (the shared mode) publishes each applied registration, heartbeat and deregistration."""
    register_url_convertor(NODE_ID_CONVERTOR, NodeIdSegment())
    router = APIRouter(tags=["nodes"])
    node_token = Depends(auth.require_node())

    @router.post(f"/v1/nodes/{REGISTER_PATH_SEGMENT}", operation_id="registerNode")
    async def register_node(body: NodeRegistration, token: str = node_token) -> JSONResponse:
        node = nodes.register(body, token)
        if shared is not None:
            await shared.registered(body, token)
        return JSONResponse(lease_body(node))

    @router.post(f"/v1/nodes/{{id:{NODE_ID_CONVERTOR}}}/heartbeat", operation_id="heartbeatNode")
    async def heartbeat_node(id: PathId, body: Heartbeat, token: str = node_token) -> JSONResponse:
        nodes.check_token(id, token)
        node = nodes.heartbeat(id, body)
        if shared is not None:
            await shared.heartbeat(id, body)
        return JSONResponse(lease_body(node))

    @router.delete(f"/v1/nodes/{{id:{NODE_ID_CONVERTOR}}}", operation_id="deregisterNode", status_code=204)
    async def deregister_node(
        id: PathId, token: str | None = Depends(auth.require_node_or(Role.ADMIN))
    ) -> Response:
        if token is not None:
            nodes.check_token(id, token)
        nodes.deregister(id)
        if shared is not None:
            await shared.deregistered(id)
        return Response(status_code=204)

    @router.get("/v1/nodes", operation_id="listNodes")
    async def list_nodes(_: Principal = Depends(auth.require(Role.ADMIN))) -> JSONResponse:
        nodes.check_leases()
        now = nodes.now()
        return JSONResponse({"nodes": [node_info(node, replicas, now) for node in nodes.nodes()]})

    return router
