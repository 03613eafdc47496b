"""Slot lease accounting per replica (ORCH-4003): the dispatcher holds one lease per running task.

Acquire and release are idempotent per lease id, so a retry, a cancel racing a failure, or a double
release can never leak or double-free a slot: for every replica 0 <= free <= total at all times, and
once every lease is released free equals total again.
"""

from __future__ import annotations

from orchestrator_core.errors import InvalidParams, NotFound


class SlotLedger:
    """Which lease holds a slot on which replica."""

    __slots__ = ("_held", "_lease_replica", "_total")

    def __init__(self) -> None:
        """Create an empty ledger."""
        self._total: dict[str, int] = {}
        self._held: dict[str, set[str]] = {}
        self._lease_replica: dict[str, str] = {}

    def set_total(self, replica_id: str, slots_total: int) -> None:
        """Register a replica or change its slot count; existing leases stay held.

        Raises:
            InvalidParams: a negative slot count.
        """
        if slots_total < 0:
            raise InvalidParams(f"replica {replica_id}: slots_total must be >= 0")
        self._total[replica_id] = slots_total
        self._held.setdefault(replica_id, set())

    def forget(self, replica_id: str) -> tuple[str, ...]:
        """Drop a replica that went away; returns the leases it still held (now released)."""
        leases = tuple(sorted(self._held.pop(replica_id, set())))
        self._total.pop(replica_id, None)
        for lease_id in leases:
            del self._lease_replica[lease_id]
        return leases

    def acquire(self, replica_id: str, lease_id: str) -> bool:
        """Take a slot on `replica_id` for `lease_id`; True if the lease holds it (again) now.

        Acquiring a lease already held on this replica is a no-op that returns True. False means no slot
        was free.

        Raises:
            NotFound: an unknown replica.
            InvalidParams: `lease_id` already holds a slot on another replica.
        """
        if replica_id not in self._total:
            raise NotFound(f"replica {replica_id} is not registered")
        held_on = self._lease_replica.get(lease_id)
        if held_on == replica_id:
            return True
        if held_on is not None:
            raise InvalidParams(f"lease {lease_id} already holds a slot on replica {held_on}")
        held = self._held[replica_id]
        if len(held) >= self._total[replica_id]:
            return False
        held.add(lease_id)
        self._lease_replica[lease_id] = replica_id
        return True

    def release(self, lease_id: str) -> bool:
        """Give back the slot of `lease_id` (task ended, canceled, failed); True if it held one."""
        replica_id = self._lease_replica.pop(lease_id, None)
        if replica_id is None:
            return False
        self._held[replica_id].discard(lease_id)
        return True

    def free(self, replica_id: str) -> int:
        """Free slots on `replica_id`, never below zero even after the total shrank (0 if unknown)."""
        total = self._total.get(replica_id, 0)
        return max(0, total - len(self._held.get(replica_id, ())))

    def total(self, replica_id: str) -> int:
        """Slots of `replica_id` (0 if unknown)."""
        return self._total.get(replica_id, 0)

    def holder(self, lease_id: str) -> str | None:
        """The replica `lease_id` holds a slot on, or None."""
        return self._lease_replica.get(lease_id)
