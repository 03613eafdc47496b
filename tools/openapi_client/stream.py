"""The state of one task stream across reconnects: decodes SSE events into the contract's event models,
drops what a resumed connection repeats, and knows which `Last-Event-ID` to send (ORCH-9102).

A resumed connection replays `started` and then only tokens after `Last-Event-ID`; the cursor still
filters by index, so a server that replays more than asked never makes the caller see a token twice.
"""

from __future__ import annotations

from typing import TypeAlias

from httpx_sse import ServerSentEvent
from pydantic import BaseModel, ValidationError

from contracts.api_types.data import EndEvent, ErrorEvent, MetricsEvent, StartedEvent, TokenEvent

from .errors import OrchestratordUnreachable, contract_violation, error_from_event
from .retry import RetryPolicy

StreamItem: TypeAlias = StartedEvent | TokenEvent | MetricsEvent | EndEvent
_PAYLOADS: dict[str, type[BaseModel]] = {
    "started": StartedEvent,
    "token": TokenEvent,
    "metrics": MetricsEvent,
    "end": EndEvent,
    "error": ErrorEvent,
}


class StreamCursor:
    """What one logical stream has delivered so far."""

    def __init__(self, policy: RetryPolicy, url: str) -> None:
        self._policy = policy
        self._url = url
        self.last_index: int | None = None
        self.started = False
        self.finished = False
        self.reconnects = 0

    def headers(self) -> dict[str, str]:
        """Headers of the next connection: resume after the last token delivered."""
        if self.last_index is None:
            return {}
        return {"Last-Event-ID": str(self.last_index)}

    def accept(self, sse: ServerSentEvent) -> StreamItem | None:
        """The event to hand to the caller, or None for a repeat or an unknown event kind.

        Raises the typed error of a terminal `error` event.
        """
        payload_type = _PAYLOADS.get(sse.event)
        if payload_type is None or self.finished:
            return None
        try:
            payload = payload_type.model_validate_json(sse.data)
        except ValidationError as exc:
            raise contract_violation(f"a {sse.event} event", sse.data) from exc
        if isinstance(payload, ErrorEvent):
            self.finished = True
            raise error_from_event(payload)
        return self._deliver(payload)

    def _deliver(self, payload: BaseModel) -> StreamItem | None:
        if isinstance(payload, StartedEvent):
            if self.started:
                return None
            self.started = True
            return payload
        if isinstance(payload, TokenEvent):
            if self.last_index is not None and payload.i <= self.last_index:
                return None
            self.last_index = payload.i
            return payload
        if isinstance(payload, EndEvent):
            self.finished = True
            return payload
        if isinstance(payload, MetricsEvent):
            return payload
        return None

    def dropped(self, reason: str) -> float:
        """Counts a dropped connection; the seconds to wait before reconnecting.

        Raises OrchestratordUnreachable once the reconnect budget is spent.
        """
        self.reconnects += 1
        wait = self._policy.wait_before_reconnect(self.reconnects)
        if wait is None:
            raise OrchestratordUnreachable(
                self._url, f"stream dropped {self.reconnects} times; last: {reason}"
            )
        return wait
