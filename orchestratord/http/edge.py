"""The one middleware around every request: correlation id, request limits and the request counter.

A single `send` wrapper both records the status for `orchd_http_requests_total` and adds
`X-Correlation-Id` (ORCH-1202), so a request crosses one orchestratord layer before FastAPI's own; the
request limits (ORCH-1003, ORCH-1081) run inside it, so their refusals are counted and carry the id.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..services.metrics import DaemonMetrics
from .correlation import HEADER, SCOPE_KEY, incoming_id
from .limits import RequestLimits, RequestLimitsMiddleware
from .rejections import RefusalCounter
from .request_metrics import route_label

_HEADER = HEADER.encode()


class EdgeMiddleware:
    """Assigns the correlation id, enforces the request limits, counts the answer by route and status."""

    def __init__(
        self,
        app: ASGIApp,
        limits: RequestLimits,
        metrics: DaemonMetrics,
        refusals: RefusalCounter | None = None,
    ) -> None:
        self.app = RequestLimitsMiddleware(app, limits, refusals)
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = incoming_id(scope) or str(uuid.uuid4())
        scope[SCOPE_KEY] = cid
        id_header = (_HEADER, cid.encode())
        status = 500

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [pair for pair in message.get("headers", []) if pair[0] != _HEADER]
                headers.append(id_header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, edge_send)
        finally:
            self.metrics.http_request(route_label(scope), status)
