"""Per-tenant quotas (ORCH-2301, ORCH-2302, ORCH-2304): max concurrent tasks and tokens per minute.

Tokens per minute is a token bucket holding at most one minute of tokens and refilling continuously.
A task is charged its estimated tokens when admitted. A task larger than the whole bucket is admitted
only when the bucket is full, and the bucket then goes into debt that the refill repays, so such a task
is neither starved forever nor free. A refusal carries `retry_after_ms`: for tokens, the time the bucket
needs to refill enough; for concurrency, the caller's estimate of when a running task ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator_core.errors import InvalidParams, QuotaExceeded

QUOTA_LABEL = "quota"


class TokenBucket:
    """A bucket of `capacity` tokens refilling at `refill_per_ms`; starts full."""

    __slots__ = ("_at_ms", "_level", "capacity", "refill_per_ms")

    def __init__(self, capacity: int, refill_per_ms: float, now_ms: float) -> None:
        """Create a full bucket.

        Raises:
            InvalidParams: a capacity or refill rate that is not positive.
        """
        if capacity <= 0 or refill_per_ms <= 0:
            raise InvalidParams("token bucket capacity and refill rate must be positive")
        self.capacity = capacity
        self.refill_per_ms = refill_per_ms
        self._level = float(capacity)
        self._at_ms = now_ms

    @classmethod
    def per_minute(cls, tokens_per_minute: int, now_ms: float) -> TokenBucket:
        """A bucket allowing `tokens_per_minute`, with a burst of one minute's worth.

        Raises:
            InvalidParams: a rate that is not positive.
        """
        return cls(tokens_per_minute, tokens_per_minute / 60_000.0, now_ms)

    def level(self, now_ms: float) -> float:
        """Tokens available at `now_ms` (negative while in debt). A clock going back refills nothing."""
        elapsed = now_ms - self._at_ms
        if elapsed > 0:
            self._level = min(float(self.capacity), self._level + elapsed * self.refill_per_ms)
            self._at_ms = now_ms
        return self._level

    def retry_after_ms(self, tokens: int, now_ms: float) -> int:
        """Milliseconds until `tokens` can be taken (0: now); a task above capacity needs a full bucket."""
        needed = min(tokens, self.capacity)
        missing = needed - self.level(now_ms)
        # The tolerance absorbs float rounding of the refill, so waiting the answer always suffices.
        return 0 if missing <= 1e-6 else math.ceil(missing / self.refill_per_ms)

    def take(self, tokens: int, now_ms: float) -> None:
        """Charge `tokens`; the caller checked `retry_after_ms(tokens, now_ms) == 0`."""
        self._level = self.level(now_ms) - tokens

    def give_back(self, tokens: int, now_ms: float) -> None:
        """Undo a `take` whose task was refused after all; never above the capacity."""
        self._level = min(float(self.capacity), self.level(now_ms) + tokens)


def concurrency_refusal(max_concurrent: int, retry_after_ms: int) -> QuotaExceeded:
    """The refusal of a task over its tenant's concurrency (retry once a running task may have ended)."""
    return QuotaExceeded(
        f"tenant has {max_concurrent} tasks in flight, the maximum",
        retry_after_ms=max(1, retry_after_ms),
        policy_label=QUOTA_LABEL,
    )


def oversized_refusal(tokens: int, capacity: int) -> QuotaExceeded:
    """No refill ever holds more than the capacity, so waiting cannot help (ORCH-2305)."""
    return QuotaExceeded(
        f"task's estimated {tokens} tokens exceed the tenant's bucket capacity of {capacity} tokens per "
        "minute",
        policy_label=QUOTA_LABEL,
        retriable=False,
    )


def tokens_refusal(capacity: int, wait_ms: int) -> QuotaExceeded:
    """The refusal of a task the tenant's bucket cannot pay now (retry once it refilled enough)."""
    return QuotaExceeded(
        f"tenant is over its {capacity} tokens per minute", retry_after_ms=wait_ms, policy_label=QUOTA_LABEL
    )


@dataclass(frozen=True, slots=True)
class TenantLimits:
    """Quota of one tenant; None means unlimited."""

    max_concurrent: int | None = None
    tokens_per_minute: int | None = None

    def __post_init__(self) -> None:
        """Validate the limits.

        Raises:
            InvalidParams: a limit below 1.
        """
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise InvalidParams("max_concurrent must be >= 1")
        if self.tokens_per_minute is not None and self.tokens_per_minute < 1:
            raise InvalidParams("tokens_per_minute must be >= 1")


class TenantQuotas:
    """Concurrency counts and token buckets of every tenant. Check first, then commit on admission."""

    __slots__ = ("_buckets", "_default", "_in_flight", "_limits", "_owner")

    def __init__(
        self, default: TenantLimits | None = None, per_tenant: Mapping[str, TenantLimits] | None = None
    ) -> None:
        """Create quotas: `per_tenant` overrides `default` (unlimited if not given)."""
        self._default = default or TenantLimits()
        self._limits = dict(per_tenant or {})
        self._buckets: dict[str, TokenBucket] = {}
        self._in_flight: dict[str, set[str]] = {}
        self._owner: dict[str, str] = {}

    def limits(self, tenant: str) -> TenantLimits:
        """The limits that apply to `tenant`."""
        return self._limits.get(tenant, self._default)

    def in_flight(self, tenant: str) -> int:
        """Tasks of `tenant` admitted and not yet ended (queued or running)."""
        return len(self._in_flight.get(tenant, ()))

    def check(self, tenant: str, tokens: int, now_ms: float, *, concurrency_retry_after_ms: int) -> None:
        """Refuse a task of `tokens` estimated tokens that the tenant's quota does not allow now.

        Raises:
            QuotaExceeded: too many tasks in flight (retry after `concurrency_retry_after_ms`) or too few
                tokens in the bucket (retry after the bucket's refill time); policy_label `quota`.
        """
        limits = self.limits(tenant)
        if limits.max_concurrent is not None and self.in_flight(tenant) >= limits.max_concurrent:
            raise concurrency_refusal(limits.max_concurrent, concurrency_retry_after_ms)
        bucket = self._bucket(tenant, now_ms)
        if bucket is not None and tokens > bucket.capacity:
            raise oversized_refusal(tokens, bucket.capacity)
        if bucket is not None:
            wait_ms = bucket.retry_after_ms(tokens, now_ms)
            if wait_ms > 0:
                raise tokens_refusal(bucket.capacity, wait_ms)

    def commit(self, tenant: str, task_id: str, tokens: int, now_ms: float) -> None:
        """Charge an admitted task: one in flight, `tokens` from the bucket. Idempotent per task_id."""
        if task_id in self._owner:
            return
        self._owner[task_id] = tenant
        self._in_flight.setdefault(tenant, set()).add(task_id)
        bucket = self._bucket(tenant, now_ms)
        if bucket is not None:
            bucket.take(tokens, now_ms)

    def release(self, task_id: str) -> bool:
        """The task ended (any outcome): it no longer counts as in flight. Idempotent; True if it did."""
        tenant = self._owner.pop(task_id, None)
        if tenant is None:
            return False
        tasks = self._in_flight[tenant]
        tasks.discard(task_id)
        if not tasks:
            del self._in_flight[tenant]
        return True

    def refund(self, task_id: str, tokens: int, now_ms: float) -> None:
        """Undo `commit` for a task refused after it: out of flight, its tokens back in the bucket."""
        tenant = self._owner.get(task_id)
        if tenant is None:
            return
        self.release(task_id)
        bucket = self._bucket(tenant, now_ms)
        if bucket is not None:
            bucket.give_back(tokens, now_ms)

    def _bucket(self, tenant: str, now_ms: float) -> TokenBucket | None:
        rate = self.limits(tenant).tokens_per_minute
        if rate is None:
            return None
        bucket = self._buckets.get(tenant)
        if bucket is None or bucket.capacity != rate:
            bucket = self._buckets[tenant] = TokenBucket.per_minute(rate, now_ms)
        return bucket
