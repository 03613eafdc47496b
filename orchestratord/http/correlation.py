"""X-Correlation-Id on every response: echo a usable client id, else generate a UUIDv4 (ORCH-1202)."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-correlation-id"
_SCOPE_KEY = "orch.correlation_id"
# A client id is echoed only when it is short and printable, so it is safe in headers and logs.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def correlation_id(scope: Scope) -> str:
    """The id assigned to this request by `CorrelationIdMiddleware` (a fresh one if it did not run)."""
    found = scope.get(_SCOPE_KEY)
    if isinstance(found, str):
        return found
    fresh = str(uuid.uuid4())
    scope[_SCOPE_KEY] = fresh
    return fresh


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            text = value.decode("latin-1")
            return text if _ACCEPTABLE.fullmatch(text) else None
    return None


class CorrelationIdMiddleware:
    """Assigns the request's correlation id and adds the header to whatever response goes out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[_SCOPE_KEY] = _incoming(scope) or str(uuid.uuid4())
        header_value = scope[_SCOPE_KEY].encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER.encode()]
                headers.append((HEADER.encode(), header_value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
