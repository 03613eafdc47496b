"""The node registry shared through Redis (ORCH-4113): a pool_managerd registers and heartbeats through any
orchestratord instance, and every instance places tasks on its replicas.

The instance a node calls applies the call to its own `NodeRegistry`, as in the embedded mode, then
publishes it: the registration (with the node's token, which every instance needs to call the node's own
API) and the latest heartbeat, each under a fresh version. Every instance applies, every lease check
interval, what the others published since its last look: a new or changed registration is registered, a
new heartbeat renews the node's lease and readiness, a registration gone from Redis is deregistered. A
node's lease therefore runs out on every instance once no instance has received its heartbeats for the
lease, measured by each instance's own clock, as in the embedded mode.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import orjson
from redis.asyncio import Redis

from contracts.api_types.control import Heartbeat, NodeRegistration
from orchestrator_core.errors import NotFound, OrchError, StateUnavailable
from orchestratord.services.nodes import NodeRegistry

from .keys import node_keys

logger = logging.getLogger(__name__)


class SharedNodes:
    """This instance's side of the shared node registry under `prefix`."""

    def __init__(self, redis: Redis, *, prefix: str, registry: NodeRegistry) -> None:
        self._redis = redis
        self._registry = registry
        self._nodes_key, self._beats_key = node_keys(prefix)
        # The version of each node's registration and heartbeat this instance applied (or published).
        self._registrations: dict[str, bytes] = {}
        self._beats: dict[str, bytes] = {}

    async def registered(self, registration: NodeRegistration, token: str) -> None:
        """Publishes a registration this instance just applied."""
        node_id = registration.node_id
        version = secrets.token_hex(8).encode()
        self._registrations[node_id] = version
        self._beats.pop(node_id, None)
        entry = {"v": version.decode(), "registration": registration.model_dump(mode="json"), "token": token}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._nodes_key, node_id, orjson.dumps(entry))
            pipe.hdel(self._beats_key, node_id)
            await pipe.execute()

    async def heartbeat(self, node_id: str, heartbeat: Heartbeat) -> None:
        """Publishes a heartbeat this instance just applied."""
        version = secrets.token_hex(8).encode()
        self._beats[node_id] = version
        entry = {"v": version.decode(), "heartbeat": heartbeat.model_dump(mode="json")}
        await self._redis.hset(self._beats_key, node_id, orjson.dumps(entry))

    async def deregistered(self, node_id: str) -> None:
        """Publishes a deregistration this instance just applied."""
        self._registrations.pop(node_id, None)
        self._beats.pop(node_id, None)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._nodes_key, node_id)
            pipe.hdel(self._beats_key, node_id)
            await pipe.execute()

    async def sync(self) -> None:
        """Applies what the other instances published since the last look."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._nodes_key)
            pipe.hgetall(self._beats_key)
            nodes, beats = await pipe.execute()
        published: dict[str, Any] = {key.decode(): orjson.loads(blob) for key, blob in nodes.items()}
        for node_id, entry in published.items():
            version = entry["v"].encode()
            if self._registrations.get(node_id) == version:
                continue
            self._registrations[node_id] = version
            self._beats.pop(node_id, None)
            registration = NodeRegistration.model_validate(entry["registration"])
            try:
                self._registry.register(registration, entry["token"])
            except OrchError as error:  # refused here as it was not there: a conflicting registration
                logger.warning("the registration of node %s was not applied: %s", node_id, error.message)
        for node_id in [known for known in self._registrations if known not in published]:
            del self._registrations[node_id]
            self._beats.pop(node_id, None)
            try:
                self._registry.deregister(node_id)
            except NotFound:
                pass
        for key, blob in beats.items():
            node_id, entry = key.decode(), orjson.loads(blob)
            version = entry["v"].encode()
            if node_id not in self._registrations or self._beats.get(node_id) == version:
                continue
            self._beats[node_id] = version
            try:
                self._registry.heartbeat(node_id, Heartbeat.model_validate(entry["heartbeat"]))
            except OrchError as error:
                logger.warning("a heartbeat of node %s was not applied: %s", node_id, error.message)

    async def keep_syncing(self, interval_s: float) -> None:
        """`sync` every `interval_s` until canceled; an outage of Redis is waited out."""
        while True:
            try:
                await self.sync()
            except StateUnavailable:
                pass
            except Exception:  # a failed round is logged; the next one may succeed
                logger.exception("applying the shared node registry failed")
            await asyncio.sleep(interval_s)
