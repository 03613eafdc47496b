"""Request limits enforced before routing: header sizes and body size (ORCH-1003, ORCH-1081).

The body is read up to the limit and replayed to the app, so an oversized body gets a 413 envelope whether
it announced its length or arrived chunked, and no handler ever sees a partial body. `EdgeMiddleware`
applies them: the header limits first, the body limit after authentication (ORCH-1008).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Message, Receive, Scope

from orchestrator_core.errors import InvalidParams, OrchError, PayloadTooLarge

BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Upper bounds for one request; the body limit comes from configuration."""

    max_body_bytes: int
    max_header_bytes: int = 8192
    max_headers: int = 100

    def too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"body is larger than {self.max_body_bytes} bytes")


def header_problem(scope: Scope, limits: RequestLimits) -> OrchError | None:
    """400 for too many headers or an over-long one."""
    headers = scope["headers"]
    if len(headers) > limits.max_headers:
        return InvalidParams(f"too many headers: {len(headers)} > {limits.max_headers}")
    for name, value in headers:
        if len(name) + len(value) > limits.max_header_bytes:
            shown = name[:64].decode("latin-1")
            return InvalidParams(f"header {shown} is longer than {limits.max_header_bytes} bytes")
    return None


def announced_body(scope: Scope, limits: RequestLimits) -> tuple[bool, bool]:
    """Whether the request announces a body (Content-Length above 0, or chunked), and whether its
    announced length is over the limit."""
    announces = over = False
    for name, value in scope["headers"]:
        if name == b"content-length" and value not in (b"0", b""):
            announces = True
            over = value.isdigit() and int(value) > limits.max_body_bytes
        elif name == b"transfer-encoding":
            announces = True
    return announces, over


async def read_body(receive: Receive, limits: RequestLimits) -> tuple[bytes | None, bool]:
    """The whole body (None once it passes the limit, which stops reading) and whether the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limits.max_body_bytes:
            return None, False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then defers to the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replayed
