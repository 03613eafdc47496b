"""Which body a failure gets: the error envelope (ORCH-1201), unless the request's path belongs to an API
that clients read in its own error shape (the OpenAI-compatible routes, ORCH-1064).

Status, headers (correlation id, Retry-After, WWW-Authenticate) and the typed error are the same whatever
the shape; only the JSON body differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orchestrator_core.errors import OrchError

ErrorBody = Callable[[OrchError, str, int | None], dict[str, object]]
"""The body of `error` answered with this correlation id and retry delay (ms)."""


def envelope_body(error: OrchError, correlation_id: str, retry_after_ms: int | None) -> dict[str, object]:
    """The envelope as a plain dict; optional fields are left out when unset."""
    body: dict[str, object] = {
        "code": error.code,
        "message": error.message,
        "retriable": error.is_retriable,
        "correlation_id": correlation_id,
    }
    optional = {
        "engine": error.engine,
        "pool_id": error.pool_id,
        "retry_after_ms": retry_after_ms,
        "policy_label": error.policy_label,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    return body


@dataclass(frozen=True, slots=True)
class ErrorShapes:
    """The body shape per path: `exact` paths and everything under a `prefixes` entry get their shape, every
    other path the envelope."""

    exact: Mapping[str, ErrorBody] = field(default_factory=dict)
    prefixes: tuple[tuple[str, ErrorBody], ...] = ()

    def body_for(self, path: str) -> ErrorBody:
        shape = self.exact.get(path)
        if shape is not None:
            return shape
        for prefix, body in self.prefixes:
            if path.startswith(prefix):
                return body
        return envelope_body
