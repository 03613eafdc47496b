"""Tenant quotas in Redis, shared by every orchestratord instance (ORCH-4103).

The in-flight tasks and the token bucket of each tenant, with the arithmetic of
`orchestrator_core.quotas.TenantQuotas`; `take` checks and charges in one call of `quotas.lua`, so two
instances can never both take a tenant's last room. The limits come from each instance's configuration
(every instance runs the same one); a bucket whose configured rate changed starts full again, as in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from orchestrator_core.quotas import TenantLimits, concurrency_refusal, oversized_refusal, tokens_refusal
from orchestratord.services.behind import OUTAGE_WRITE_S, WriteBehind

SCRIPT = files(__package__).joinpath("quotas.lua").read_text()


def _limit(value: int | None) -> str:
    return "" if value is None else str(value)


class RedisQuotas:
    """`QuotaStore` on a redis-py asyncio client; `limits_of` gives each tenant's configured limits."""

    def __init__(self, redis: Redis, limits_of: Callable[[str], TenantLimits], prefix: str = "orch") -> None:
        self._limits_of = limits_of
        self._keys = [f"{prefix}:quota:"]
        self._script = redis.register_script(SCRIPT)
        self.behind = WriteBehind()

    async def _call(self, *args: str | int) -> Any:
        return await self._script(keys=self._keys, args=list(args))

    async def take(
        self, tenant: str, task_id: str, tokens: int, now_ms: float, *, concurrency_retry_after_ms: int
    ) -> None:
        """Charge the task one in flight and its tokens, or raise the refusal `TenantQuotas.check` gives."""
        limits = self._limits_of(tenant)
        answer = await self._call(
            "take",
            task_id,
            tenant,
            tokens,
            repr(float(now_ms)),
            _limit(limits.max_concurrent),
            _limit(limits.tokens_per_minute),
        )
        status = answer[0]
        if status == b"concurrency":
            assert limits.max_concurrent is not None
            raise concurrency_refusal(limits.max_concurrent, concurrency_retry_after_ms)
        if status == b"too_large":
            raise oversized_refusal(tokens, int(float(answer[1])))
        if status == b"tokens":
            raise tokens_refusal(int(float(answer[2])), int(float(answer[1])))

    async def refund(self, task_id: str, tokens: int, now_ms: float) -> None:
        """Undo a take whose task was refused after it."""
        await self._call("refund", task_id, tokens, repr(float(now_ms)))

    def release(self, task_id: str) -> bool:
        """The task ended: it leaves the in-flight set a moment later (written behind). True: asked."""
        self.behind.submit_retrying(lambda: self.release_now(task_id), for_s=OUTAGE_WRITE_S)
        return True

    async def release_now(self, task_id: str) -> bool:
        """The task ended; True if it was in flight."""
        return bool(await self._call("release", task_id))

    async def in_flight(self, tenant: str) -> int:
        return int(await self._call("in_flight", tenant))
