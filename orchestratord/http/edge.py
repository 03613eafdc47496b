"""The one middleware around every request: correlation id, request limits, authentication and the
request counter.

A single `send` wrapper both records the status for `orchd_http_requests_total` and adds
`X-Correlation-Id` (ORCH-1202), so a request crosses one orchestratord layer before FastAPI's own. Before
the app runs, in the order of ORCH-1008: header limits (400; the credentials are themselves a header),
then the route's guard from the headers alone (401/403), then the body limit (413) while the body is
read. Every refusal is the error envelope, is counted and carries the id.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator_core.errors import OrchError

from ..services.metrics import DaemonMetrics
from .correlation import HEADER, SCOPE_KEY, incoming_id
from .envelope import envelope_response
from .limits import BODYLESS_METHODS, RequestLimits, announced_body, header_problem, read_body, replay
from .rejections import RefusalCounter
from .request_metrics import route_label
from .route_guards import RouteGuards

_HEADER = HEADER.encode()


class EdgeMiddleware:
    """Assigns the correlation id, enforces the request limits and the route's guard, counts the answer
    by route and status."""

    def __init__(
        self,
        app: ASGIApp,
        limits: RequestLimits,
        metrics: DaemonMetrics,
        refusals: RefusalCounter | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.metrics = metrics
        self._refusals = refusals
        self._guards = RouteGuards()

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
            await self._admit(scope, receive, edge_send)
        finally:
            self.metrics.http_request(route_label(scope), status)

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = header_problem(scope, self.limits) or self._guard_problem(scope)
        if problem is not None:
            await self._refuse(problem, scope, receive, send)
            return
        announces, over = announced_body(scope, self.limits)
        if over:
            await self._refuse(self.limits.too_large(), scope, receive, send)
            return
        if not announces and scope["method"] in BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        body, disconnected = await read_body(receive, self.limits)
        if body is None:
            await self._refuse(self.limits.too_large(), scope, receive, send)
            return
        await self.app(scope, replay(body, disconnected, receive), send)

    def _guard_problem(self, scope: Scope) -> OrchError | None:
        """401/403 from the guard of the route the request will reach; counted under that route."""
        guarded = self._guards.route(scope)
        if guarded is None:
            return None
        route, guards = guarded
        try:
            for guard in guards:
                guard.decide(scope)
        except OrchError as error:
            scope["route"] = route.original_route
            return error
        return None

    async def _refuse(self, problem: OrchError, scope: Scope, receive: Receive, send: Send) -> None:
        if self._refusals is not None:
            self._refusals(scope, problem)
        await envelope_response(problem, scope[SCOPE_KEY])(scope, receive, send)
