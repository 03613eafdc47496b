"""Slot leases in Redis, shared by every orchestratord instance (ORCH-4105).

A lease is held for a TTL that its holder renews (`keep_alive`); a holder that dies stops renewing, and its
slots are free again once the TTL has passed, measured on Redis's clock. A lease that lapsed is never
renewed, so a holder that was paused past its TTL learns that it lost the slot (and must stop the run)
instead of sharing it with whoever took it since. Each lease carries a fencing token, strictly increasing
across the cluster, for writes that must come from the slot's current holder only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

from redis.asyncio import Redis

from orchestrator_core.errors import StateUnavailable
from orchestratord.services.behind import WriteBehind

SCRIPT = files(__package__).joinpath("leases.lua").read_text()
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lease:
    """One held slot of `replica_id`; `token` is its fencing token."""

    replica_id: str
    lease_id: str
    token: int


class RedisLeases:
    """The slot leases of every replica under `prefix`, held `ttl_ms` between renewals."""

    def __init__(self, redis: Redis, *, ttl_ms: int, prefix: str = "orch") -> None:
        self._ttl_ms = ttl_ms
        self._prefix = prefix
        self._script = redis.register_script(SCRIPT)
        self._held: dict[str, Lease] = {}
        self._renewed_at: dict[str, float] = {}  # loop time each held lease was last asked for or renewed
        self.behind = WriteBehind()

    def _keys(self, replica_id: str) -> list[str]:
        # One hash tag per replica: a replica's keys share a cluster slot; the counter is its own key.
        return [f"{self._prefix}:lease:{{{replica_id}}}", f"{self._prefix}:fence"]

    async def lease(self, replica_id: str, task_id: str, slots: int) -> Lease | None:
        """A slot of `replica_id` for `task_id`, or None when its `slots` are all held."""
        sent_at = asyncio.get_running_loop().time()
        answer = await self._script(
            keys=self._keys(replica_id),
            args=["lease", task_id, slots, self._ttl_ms, f"{replica_id}#"],
        )
        if not answer:
            return None
        lease = Lease(replica_id, answer[0].decode(), int(answer[1]))
        self._held[lease.lease_id] = lease
        self._renewed_at[lease.lease_id] = sent_at
        return lease

    async def renew(self, lease: Lease) -> bool:
        """Push the lease's expiry one TTL on; False: it lapsed, and the slot is no longer this holder's."""
        renewed = bool(
            await self._script(
                keys=self._keys(lease.replica_id), args=["renew", lease.lease_id, self._ttl_ms]
            )
        )
        if not renewed:
            self._held.pop(lease.lease_id, None)
        return renewed

    async def release_now(self, lease: Lease) -> bool:
        """Give the slot back; True if it was still held."""
        self._held.pop(lease.lease_id, None)
        self._renewed_at.pop(lease.lease_id, None)
        return bool(await self._script(keys=self._keys(lease.replica_id), args=["release", lease.lease_id]))

    def release(self, lease: Lease) -> None:
        """Give the slot back from synchronous code (a run's end); written a moment later."""
        self._held.pop(lease.lease_id, None)
        self._renewed_at.pop(lease.lease_id, None)
        self.behind.submit(self._release_unless_away(lease))

    async def _release_unless_away(self, lease: Lease) -> None:
        with contextlib.suppress(StateUnavailable):  # Redis away: the lease lapses with its TTL
            await self.release_now(lease)

    async def take_slot(self, replica_id: str, task_id: str, slots: int) -> str | None:
        """`lease`, answering the lease id only (what the dispatcher keeps)."""
        lease = await self.lease(replica_id, task_id, slots)
        return lease.lease_id if lease is not None else None

    def free_slot(self, lease_id: str) -> None:
        """`release` by lease id; a lease this instance no longer holds is left alone."""
        lease = self._held.get(lease_id)
        if lease is not None:
            self.release(lease)

    async def held_slots(self, replica_id: str) -> int:
        """How many of the replica's slots live leases hold, across every instance (counted in Redis: the
        dispatcher asks before each task it takes)."""
        return int(await self._script(keys=self._keys(replica_id), args=["count"]))

    async def holders(self, replica_id: str) -> list[str]:
        """The task ids holding a live lease on `replica_id`, across every instance."""
        answer = await self._script(keys=self._keys(replica_id), args=["held"])
        return sorted(task_id.decode() for task_id in answer)

    @property
    def held(self) -> tuple[Lease, ...]:
        """The leases this instance holds."""
        return tuple(self._held.values())

    async def keep_alive(self, lost: Callable[[Lease], None]) -> None:
        """Renew every held lease three times per TTL until canceled; `lost` hears of each lease that
        lapsed before its renewal (its run must stop). While Redis does not answer, a lease counts as
        lapsed once a TTL has passed since its last renewal was sent: Redis' clock started no earlier,
        so the slot may be another instance's by then (ORCH-4110)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            for lease in self.held:
                sent_at = loop.time()
                try:
                    renewed = await self.renew(lease)
                except StateUnavailable:
                    renewed = (
                        loop.time() - self._renewed_at.get(lease.lease_id, sent_at) < self._ttl_ms / 1000
                    )
                    if not renewed:
                        self._held.pop(lease.lease_id, None)
                except Exception:  # a bug: logged, and the lease is tried again next round
                    logger.exception("renewing lease %s failed", lease.lease_id)
                    continue
                else:
                    self._renewed_at[lease.lease_id] = sent_at
                if not renewed:
                    self._renewed_at.pop(lease.lease_id, None)
                    lost(lease)
