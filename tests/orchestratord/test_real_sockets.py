"""orchestratord under real uvicorn on 127.0.0.1 with the mock engine's HTTP server (llama.cpp wire):
client disconnects, the grace period, reconnects, and cancel closing the upstream connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from httpx_sse import aconnect_sse

from mock_engine.faults import Faults, MockConfig
from mock_engine.server import MockServer, serve_mock
from orchestratord.wiring import Services
from tests.orchestratord.orchd_harness import MODEL, eventually, make_config, serve_orchestratord

GRACE_MS = 300


@asynccontextmanager
async def stack() -> AsyncIterator[tuple[httpx.AsyncClient, Services, MockServer]]:
    async with serve_mock("llamacpp", MockConfig(slots=1), Faults(token_delay_ms=20)) as engine:
        config = make_config(
            streaming={"disconnect_grace_ms": GRACE_MS, "heartbeat_ms": 10_000},
            replicas=[
                {
                    "id": "r0",
                    "pool_id": "pool-a",
                    "engine": "llamacpp",
                    "base_url": engine.base_url,
                    "model_ref": MODEL,
                    "slots": 1,
                    "ctx_max": 4096,
                }
            ],
        )
        async with serve_orchestratord(config) as (url, services), httpx.AsyncClient(base_url=url) as client:
            yield client, services, engine


async def submit(client: httpx.AsyncClient, max_tokens: int = 2000) -> str:
    response = await client.post(
        "/v1/tasks", json={"model_ref": MODEL, "prompt": "hi", "max_tokens": max_tokens}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


async def read_tokens(
    client: httpx.AsyncClient, task_id: str, count: int, last: str | None = None
) -> list[int]:
    """Reads `count` token events, then drops the connection."""
    headers = {"Last-Event-ID": last} if last is not None else {}
    seen: list[int] = []
    async with aconnect_sse(client, "GET", f"/v1/tasks/{task_id}/stream", headers=headers) as source:
        async for sse in source.aiter_sse():
            if sse.event == "token":
                seen.append(int(sse.id))
                if len(seen) >= count:
                    break
    return seen


async def state(client: httpx.AsyncClient, task_id: str) -> str:
    return str((await client.get(f"/v1/tasks/{task_id}")).json()["state"])


@pytest.mark.req("ORCH-1015", "ORCH-1031")
async def test_disconnect_cancels_after_the_grace_period_and_frees_the_engine_slot() -> None:
    async with stack() as (client, services, engine):
        task_id = await submit(client)
        assert await read_tokens(client, task_id, 3) == [0, 1, 2]
        await asyncio.sleep(GRACE_MS / 1000 / 3)
        assert await state(client, task_id) == "running"
        await eventually(lambda: services.registry.get(task_id).state.value == "canceled", 3.0)
        assert await engine.engine.wait_idle(1.0)
        assert services.replicas.free_slots("r0") == services.replicas.total_slots("r0") == 1


@pytest.mark.req("ORCH-1015", "ORCH-1012")
async def test_a_reader_reconnecting_within_the_grace_period_keeps_the_task() -> None:
    async with stack() as (client, _services, _engine):
        task_id = await submit(client, max_tokens=60)
        first = await read_tokens(client, task_id, 3)
        await asyncio.sleep(GRACE_MS / 1000 / 2)
        resumed = await read_tokens(client, task_id, 5, last=str(first[-1]))
        assert resumed == [3, 4, 5, 6, 7]
        async with aconnect_sse(client, "GET", f"/v1/tasks/{task_id}/stream") as source:
            kinds = [sse.event async for sse in source.aiter_sse()]
        assert kinds[-1] == "end"
        assert await state(client, task_id) == "succeeded"


@pytest.mark.req("ORCH-1031", "ORCH-1030")
async def test_cancel_closes_the_upstream_connection_within_one_second() -> None:
    async with stack() as (client, services, engine):
        task_id = await submit(client)
        reader = asyncio.create_task(read_tokens(client, task_id, 10_000))
        await eventually(lambda: services.registry.get(task_id).tokens_out >= 2, 5.0)
        assert engine.engine.active == 1
        assert (await client.post(f"/v1/tasks/{task_id}/cancel")).status_code == 204
        assert await engine.engine.wait_idle(1.0)
        await asyncio.wait_for(reader, 2.0)
