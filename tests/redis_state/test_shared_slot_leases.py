"""Slot leases in Redis (ORCH-4105), on a real redis-server: instances racing for a replica's slots never
hold more than it has; a holder that stops renewing loses its slots within the TTL, and once lapsed its
lease can never be renewed, so a paused holder cannot share a slot with the one who took it; fencing
tokens only grow."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from redis.asyncio import Redis

from orchestratord.redis_state.leases import Lease, RedisLeases

TTL_MS = 200


@pytest.mark.req("ORCH-4105")
async def test_instances_racing_for_a_replicas_slots_hold_exactly_its_slots(redis: Redis) -> None:
    instances = [RedisLeases(redis, ttl_ms=10_000) for _ in range(4)]
    taken = await asyncio.gather(*(instances[n % 4].lease("r0", f"task-{n}", slots=3) for n in range(30)))
    held = [lease for lease in taken if lease is not None]
    assert len(held) == 3
    assert len(await instances[1].holders("r0")) == 3
    assert await instances[0].held_slots("r0") == 3  # counted in Redis, the same figure
    await instances[0].release_now(held[0])
    again = await instances[2].lease("r0", "task-late", slots=3)
    assert again is not None and again.token > max(lease.token for lease in held)
    assert await instances[3].lease("r0", "task-later", slots=3) is None


@pytest.mark.req("ORCH-4105")
async def test_a_holder_that_stops_renewing_loses_its_slots_within_the_ttl_and_never_gets_them_back(
    redis: Redis,
) -> None:
    paused, survivor = RedisLeases(redis, ttl_ms=TTL_MS), RedisLeases(redis, ttl_ms=TTL_MS)
    first = [await paused.lease("r0", f"old-{n}", slots=2) for n in range(2)]
    assert await survivor.lease("r0", "new-0", slots=2) is None
    await asyncio.sleep(TTL_MS * 1.5 / 1000)
    # The paused holder wakes before anyone else asked: its lapsed lease is still refused.
    assert first[0] is not None and not await paused.renew(first[0])
    taken = [await survivor.lease("r0", f"new-{n}", slots=2) for n in range(2)]
    assert all(lease is not None for lease in taken)
    for lease in first:
        assert lease is not None and not await paused.renew(lease)
    assert await survivor.held_slots("r0") == 2
    assert await survivor.holders("r0") == ["new-0", "new-1"]


@pytest.mark.req("ORCH-4105")
async def test_keep_alive_holds_the_slots_past_the_ttl_and_reports_a_lease_that_lapsed(redis: Redis) -> None:
    holder, other = RedisLeases(redis, ttl_ms=TTL_MS), RedisLeases(redis, ttl_ms=TTL_MS)
    lost: list[Lease] = []
    lease = await holder.lease("r0", "task-a", slots=1)
    assert lease is not None
    renewing = asyncio.create_task(holder.keep_alive(lost.append))
    await asyncio.sleep(TTL_MS * 3.5 / 1000)
    assert await other.lease("r0", "task-b", slots=1) is None and lost == []
    renewing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await renewing
    await asyncio.sleep(TTL_MS * 1.5 / 1000)
    assert await other.lease("r0", "task-b", slots=1) is not None
    renewing = asyncio.create_task(holder.keep_alive(lost.append))
    await asyncio.sleep(TTL_MS / 2 / 1000)
    renewing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await renewing
    assert lost == [lease] and holder.held == ()


@pytest.mark.req("ORCH-4105")
async def test_a_release_from_synchronous_code_frees_the_slot_for_another_instance(redis: Redis) -> None:
    holder, other = RedisLeases(redis, ttl_ms=10_000), RedisLeases(redis, ttl_ms=10_000)
    lease = await holder.lease("r0", "task-a", slots=1)
    assert lease is not None and await other.lease("r0", "task-b", slots=1) is None
    holder.release(lease)
    await holder.behind.flush()
    assert holder.held == () and await other.lease("r0", "task-b", slots=1) is not None
