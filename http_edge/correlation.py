"""X-Correlation-Id of a request (ORCH-1202): echo a usable client id, else a UUIDv4; `EdgeMiddleware`
assigns it and adds the header to every response."""

from __future__ import annotations

import re
import uuid

from starlette.types import Scope

HEADER = "x-correlation-id"
SCOPE_KEY = "orch.correlation_id"
# A client id is echoed only when it is 1..128 visible ASCII characters (no space, no control character),
# so it is safe in headers and log lines.
_ACCEPTABLE = re.compile(r"[\x21-\x7e]{1,128}")


def correlation_id(scope: Scope) -> str:
    """The id assigned to this request by `EdgeMiddleware` (a fresh one if it did not run)."""
    found = scope.get(SCOPE_KEY)
    if isinstance(found, str):
        return found
    fresh = str(uuid.uuid4())
    scope[SCOPE_KEY] = fresh
    return fresh


def incoming_id(scope: Scope) -> str | None:
    """The client's X-Correlation-Id when it is usable, else None."""
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            text = value.decode("latin-1")
            return text if _ACCEPTABLE.fullmatch(text) else None
    return None
