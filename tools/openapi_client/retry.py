"""Which failures the SDK retries and how long it waits: only retriable codes, waiting `X-Backoff-Ms`
(else `Retry-After`, else the envelope's `retry_after_ms`) capped at 30 s, 3 attempts by default
(ORCH-9103). Reconnects of a dropped stream have their own small budget (ORCH-9102)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from orchestrator_core.errors import OrchError

from .errors import is_retriable

DEFAULT_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` counts the first try; waits are capped at `cap_s`."""

    attempts: int = 3
    cap_s: float = 30.0
    stream_reconnects: int = 5
    reconnect_base_s: float = 0.1
    reconnect_cap_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.stream_reconnects < 0 or self.cap_s < 0:
            raise ValueError("attempts must be >= 1, stream_reconnects and cap_s >= 0")

    def wait_before_retry(self, error: OrchError, headers: httpx.Headers, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when the error must be raised now."""
        if attempt >= self.attempts or not is_retriable(error):
            return None
        return min(self.cap_s, server_hint_s(error, headers))

    def wait_before_reconnect(self, reconnect: int) -> float | None:
        """Seconds to wait before reconnect number `reconnect` (1-based), or None past the budget."""
        if reconnect > self.stream_reconnects:
            return None
        return min(self.reconnect_cap_s, self.reconnect_base_s * 2.0 ** (reconnect - 1))


def server_hint_s(error: OrchError, headers: httpx.Headers) -> float:
    """The server's requested pause in seconds: X-Backoff-Ms, else Retry-After, else retry_after_ms."""
    backoff_ms = _number(headers.get("x-backoff-ms"))
    if backoff_ms is not None:
        return backoff_ms / 1000
    retry_after_s = _number(headers.get("retry-after"))
    if retry_after_s is not None:
        return retry_after_s
    if error.retry_after_ms is not None:
        return error.retry_after_ms / 1000
    return DEFAULT_WAIT_S


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None  # an HTTP-date Retry-After is not used by orchestratord; fall through
    return number if number >= 0 else None
