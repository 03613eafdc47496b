"""Request limits enforced before routing: header sizes and body size (ORCH-1003, ORCH-1081).

The body is read up to the limit and replayed to the app, so an oversized body gets a 413 envelope whether
it announced its length or arrived chunked, and no handler ever sees a partial body.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator_core.errors import InvalidParams, OrchError, PayloadTooLarge

from .correlation import correlation_id
from .envelope import envelope_response
from .rejections import RefusalCounter


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Upper bounds for one request; the body limit comes from configuration."""

    max_body_bytes: int
    max_header_bytes: int = 8192
    max_headers: int = 100


def _header_problem(scope: Scope, limits: RequestLimits) -> OrchError | None:
    headers = scope.get("headers", ())
    if len(headers) > limits.max_headers:
        return InvalidParams(f"too many headers: {len(headers)} > {limits.max_headers}")
    for name, value in headers:
        if len(name) + len(value) > limits.max_header_bytes:
            shown = name[:64].decode("latin-1")
            return InvalidParams(f"header {shown} is longer than {limits.max_header_bytes} bytes")
        if name == b"content-length" and value.isdigit() and int(value) > limits.max_body_bytes:
            return PayloadTooLarge(f"body is larger than {limits.max_body_bytes} bytes")
    return None


class RequestLimitsMiddleware:
    """Refuses over-long headers (400) and bodies over the limit (413) with the error envelope."""

    def __init__(self, app: ASGIApp, limits: RequestLimits, refusals: RefusalCounter | None = None) -> None:
        self.app = app
        self.limits = limits
        self._refusals = refusals

    async def _refuse(self, problem: OrchError, scope: Scope, receive: Receive, send: Send) -> None:
        if self._refusals is not None:
            self._refusals(scope, problem)
        await envelope_response(problem, correlation_id(scope))(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _header_problem(scope, self.limits)
        if problem is not None:
            await self._refuse(problem, scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") and not _announces_body(scope):
            await self.app(scope, receive, send)
            return
        body, disconnected = await self._read_body(receive)
        if body is None:
            too_large = PayloadTooLarge(f"body is larger than {self.limits.max_body_bytes} bytes")
            await self._refuse(too_large, scope, receive, send)
            return
        await self.app(scope, _replay(body, disconnected, receive), send)

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks), True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                return None, False
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False


def _announces_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value not in (b"0", b"")):
            return True
    return False


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay
