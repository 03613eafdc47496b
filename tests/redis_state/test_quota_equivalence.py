"""The Redis quotas are the in-memory quotas, shared: a Hypothesis state machine drives `TenantQuotas` and
`RedisQuotas` (on a real redis-server) with the same takes, refunds and releases and asserts the same
refusals, retry hints and in-flight counts (ORCH-4103, ORCH-2301, ORCH-2302, ORCH-2305)."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test
from redis.asyncio import Redis

from orchestrator_core.errors import OrchError
from orchestrator_core.quotas import TenantLimits, TenantQuotas
from orchestrator_core.stores import LocalQuotas, QuotaStore
from orchestratord.redis_state.quotas import RedisQuotas
from tests.redis_support import RedisMachine, RedisServer

T = TypeVar("T")
TENANTS = ("t1", "t2", "t3")
LIMITS = {
    "t1": TenantLimits(max_concurrent=2, tokens_per_minute=600),
    "t2": TenantLimits(tokens_per_minute=1_000),
    "t3": TenantLimits(max_concurrent=3),
}


async def take(store: QuotaStore, tenant: str, task_id: str, tokens: int, now_ms: float) -> tuple[str, Any]:
    try:
        await store.take(tenant, task_id, tokens, now_ms, concurrency_retry_after_ms=250)
    except OrchError as error:
        return "error", (type(error).__name__, error.code, error.retry_after_ms, error.retriable, str(error))
    return "ok", None


class SameQuotas(RedisMachine):
    def __init__(self) -> None:
        super().__init__()
        self.memory = TenantQuotas(TenantLimits(), LIMITS)
        self.local = LocalQuotas(self.memory)
        self.shared = RedisQuotas(self.client, self.memory.limits, prefix="eq")
        self.now = 1_733_000_000_000.5
        self.next_id = 0
        self.taken: list[tuple[str, int]] = []

    @rule(
        tenant=st.sampled_from(TENANTS),
        tokens=st.integers(0, 1_200),
        elapsed=st.floats(-50, 30_000, allow_nan=False),
    )
    def take(self, tenant: str, tokens: int, elapsed: float) -> None:
        # A clock that goes back a little is allowed: it refills nothing in either store.
        self.now += elapsed
        self.next_id += 1
        task_id = f"task-{self.next_id}"
        memory = self.run(take(self.local, tenant, task_id, tokens, self.now))
        shared = self.run(take(self.shared, tenant, task_id, tokens, self.now))
        assert memory == shared
        if memory[0] == "ok":
            self.taken.append((task_id, tokens))

    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        if not self.taken:
            return
        task_id, tokens = self.taken.pop(data.draw(st.integers(0, len(self.taken) - 1)))
        self.run(self.local.refund(task_id, tokens, self.now))
        self.run(self.shared.refund(task_id, tokens, self.now))

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        if not self.taken:
            return
        task_id, _ = self.taken.pop(data.draw(st.integers(0, len(self.taken) - 1)))
        assert self.memory.release(task_id) == self.run(self.shared.release_now(task_id))

    @invariant()
    def same_in_flight(self) -> None:
        for tenant in TENANTS:
            assert self.run(self.shared.in_flight(tenant)) == self.memory.in_flight(tenant)


@pytest.mark.req("ORCH-4103", "ORCH-4102", "ORCH-2301", "ORCH-2302", "ORCH-2305")
def test_the_redis_quotas_refuse_and_charge_exactly_as_the_in_memory_quotas(
    redis_process: RedisServer,
) -> None:
    SameQuotas.url = redis_process.url
    checks = settings(
        max_examples=50, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    run_state_machine_as_test(SameQuotas, settings=checks)


@pytest.mark.req("ORCH-4103")
async def test_instances_racing_for_a_tenants_last_slots_never_take_more_than_its_limit(redis: Redis) -> None:
    limits = TenantLimits(max_concurrent=5)
    instances = [RedisQuotas(redis, lambda _tenant: limits, prefix="race") for _ in range(4)]

    async def attempt(store: RedisQuotas, number: int) -> bool:
        return (await take(store, "t1", f"task-{number}", 1, 0.0))[0] == "ok"

    taken = await asyncio.gather(*(attempt(instances[n % 4], n) for n in range(40)))
    assert sum(taken) == 5 and await instances[0].in_flight("t1") == 5


@pytest.mark.req("ORCH-4103")
async def test_a_release_from_the_terminal_hook_frees_the_tenants_room_on_every_instance(
    redis: Redis,
) -> None:
    limits = TenantLimits(max_concurrent=1)
    first, second = (RedisQuotas(redis, lambda _tenant: limits, prefix="hook") for _ in range(2))
    assert (await take(first, "t1", "task-a", 1, 0.0))[0] == "ok"
    assert (await take(second, "t1", "task-b", 1, 0.0))[0] == "error"
    assert first.release("task-a")
    await first.behind.flush()
    assert (await take(second, "t1", "task-b", 1, 0.0))[0] == "ok"
