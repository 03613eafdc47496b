"""The node supervisor: every pool of this host, started and stopped together (ORCH-6009).

Start plans every pool before any engine runs, so a bad model_ref, device or port range fails fast and
leaves nothing behind. Stop terminates every engine process group and kills it after the grace period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from orchestrator_core.errors import InvalidParams, NotFound
from pool_managerd.devices import DeviceInventory, discover_devices
from pool_managerd.digest import DigestCache
from pool_managerd.pool import Pool, PoolContext
from pool_managerd.readiness import AdapterFactory
from pool_managerd.spec import NodeSpec
from pool_managerd.status import PoolStatus


class Supervisor:
    """Owns the pools of one node."""

    def __init__(self, node: NodeSpec, context: PoolContext) -> None:
        ids = [p.pool_id for p in node.pools]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise InvalidParams(f"pools: duplicate pool id(s) {', '.join(duplicated)}")
        self.node = node
        self.context = context
        self.pools: dict[str, Pool] = {p.pool_id: Pool(p, context) for p in node.pools}

    @property
    def inventory(self) -> DeviceInventory:
        return self.context.inventory

    async def start(self) -> None:
        """Start every pool; on the first error, stop what started and raise it."""
        started: list[Pool] = []
        try:
            for pool in self.pools.values():
                await pool.start()
                started.append(pool)
        except BaseException:
            await asyncio.gather(*(p.stop() for p in started), return_exceptions=True)
            raise

    async def stop(self) -> None:
        """Terminate every engine (SIGTERM, then SIGKILL after the grace period)."""
        await asyncio.gather(*(p.stop() for p in self.pools.values()))

    def kill_now(self) -> None:
        """SIGKILL every engine process group at once (last resort when the loop cannot run stop)."""
        for pool in self.pools.values():
            pool.kill_now()

    async def refresh_devices(self) -> None:
        """Re-read GPU utilisation and free VRAM (a CPU-only host stays CPU-only)."""
        if not self.context.inventory.cpu_only:
            self.context.inventory = await asyncio.to_thread(discover_devices)

    def pool(self, pool_id: str) -> Pool:
        try:
            return self.pools[pool_id]
        except KeyError:
            raise NotFound(f"pool {pool_id!r} is not managed by this node", pool_id=pool_id) from None

    def status(self) -> list[PoolStatus]:
        return [p.status() for p in self.pools.values()]

    async def busy_slots(self) -> dict[str, int | None]:
        """Busy slots per replica id of the serving sets; None where the engine did not answer."""
        replicas = [r for p in self.pools.values() if p.active for r in p.active.replicas]
        counts = await asyncio.gather(*(r.in_flight() for r in replicas), return_exceptions=True)
        return {
            r.replica_id: None if isinstance(n, BaseException) else n
            for r, n in zip(replicas, counts, strict=True)
        }

    def pids(self) -> list[int]:
        return [pid for p in self.pools.values() for pid in p.pids()]


def build_context(
    node: NodeSpec,
    base_env: Mapping[str, str],
    adapters: AdapterFactory,
    inventory: DeviceInventory | None = None,
) -> PoolContext:
    """The shared context of a node's pools, discovering devices unless an inventory is given."""
    return PoolContext(
        adapters=adapters,
        inventory=inventory if inventory is not None else discover_devices(),
        digests=DigestCache(),
        log_dir=node.log_dir,
        model_cache_dir=node.model_cache_dir,
        base_env=dict(base_env),
        config_dir=node.config_dir,
        stop_grace_s=node.stop_grace_s,
    )
