"""`ClientCore`: what `Client` and `AsyncClient` share besides the operations: where they connect and
with which key, the timeouts of requests and streams, the retry policy, and the retry decision on each
answer. The subclasses add only their own I/O (httpx client, sleep, iteration)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict, TypeVar

import httpx

from orchestrator_core.errors import OrchError

from .errors import OrchestratordUnreachable
from .operations import Operation
from .retry import RetryPolicy
from .stream import StreamCursor
from .target import resolve_target

T = TypeVar("T")
# A stream waits through 3 missed 10 s heartbeats before it counts as dropped.
STREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
ENDED_EARLY = "the stream ended without a terminal event"


class HttpOptions(TypedDict):
    """The httpx client settings both clients use."""

    base_url: str
    headers: dict[str, str]
    timeout: httpx.Timeout
    trust_env: bool


@dataclass(frozen=True, slots=True)
class Retry:
    """The answer was an error worth retrying: wait `wait_s` seconds, then send again."""

    wait_s: float


def transport_reason(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {exc}"


class ClientCore:
    """The resolved settings of a client; `url` and `api_key` default to ORCH_URL / ORCH_API_KEY."""

    def __init__(
        self, url: str | None, api_key: str | None, timeout_s: float, retry: RetryPolicy | None
    ) -> None:
        self.target = resolve_target(url, api_key)
        self.retry = retry or RetryPolicy()
        self._request_timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self._stream_timeout = STREAM_TIMEOUT

    def _http_options(self) -> HttpOptions:
        """Base URL, auth headers and request timeout; proxies from the environment are not used."""
        return HttpOptions(
            base_url=self.target.base_url,
            headers=self.target.headers,
            timeout=self._request_timeout,
            trust_env=False,
        )

    def _settle(self, operation: Operation[T], response: httpx.Response, attempt: int) -> T | Retry:
        """The operation's result, or the wait before attempt `attempt + 1`; raises the typed error once
        the error is not retriable or the attempts are spent."""
        try:
            return operation.result(response)
        except OrchError as error:
            wait = self.retry.wait_before_retry(error, response.headers, attempt)
            if wait is None:
                raise
            return Retry(wait)

    def _unreachable(self, exc: httpx.TransportError) -> OrchestratordUnreachable:
        return OrchestratordUnreachable(self.target.base_url, transport_reason(exc))

    def _stream_cursor(self) -> StreamCursor:
        return StreamCursor(self.retry, self.target.base_url)
