"""The one middleware around every request: correlation id, request limits, the route's guard, and a
callback that sees each answer's status.

A single `send` wrapper both reports the status and adds `X-Correlation-Id` (ORCH-1202), so a request
crosses one edge layer before FastAPI's own. Before the app runs, in the order of ORCH-1008: header limits
(400; the credentials are themselves a header), then the guard from the headers alone (401/403), then the
body limit (413) while the body is read. Every refusal is the error envelope and carries the id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator_core.errors import OrchError

from .correlation import HEADER, SCOPE_KEY, incoming_id
from .envelope import envelope_response
from .error_shapes import ErrorShapes
from .limits import BODYLESS_METHODS, RequestLimits, announced_body, header_problem, read_body, replay

Guard = Callable[[Scope], OrchError | None]
"""The refusal a request earns from its headers alone (401/403), or None."""
Answered = Callable[[Scope, int], None]
"""Sees the status of every answer, refusals included (request counters)."""
Refused = Callable[[Scope, OrchError], None]
"""Sees every error the edge or an error handler answers (refusal counters)."""

_HEADER = HEADER.encode()


class EdgeMiddleware:
    """Assigns the correlation id, enforces the request limits and the guard, reports each answer."""

    def __init__(
        self,
        app: ASGIApp,
        limits: RequestLimits,
        guard: Guard | None = None,
        answered: Answered | None = None,
        refused: Refused | None = None,
        shapes: ErrorShapes | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self._guard = guard
        self._answered = answered
        self._refused = refused
        self._shapes = shapes or ErrorShapes()

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
            if self._answered is not None:
                self._answered(scope, status)

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = header_problem(scope, self.limits)
        if problem is None and self._guard is not None:
            problem = self._guard(scope)
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

    async def _refuse(self, problem: OrchError, scope: Scope, receive: Receive, send: Send) -> None:
        if self._refused is not None:
            self._refused(scope, problem)
        shape = self._shapes.body_for(scope["path"])
        await envelope_response(problem, scope[SCOPE_KEY], shape=shape)(scope, receive, send)
