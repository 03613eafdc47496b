"""Reading task streams in chaos scenarios: every event of a task's SSE stream, bounded in time, with a hook
called after each token so a scenario can break something mid-stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import connect_sse

TERMINAL = frozenset({"end", "error"})


@dataclass
class Followed:
    """What a reader of one task's stream saw."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    transport_error: str | None = None
    seconds: float = 0.0

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    @property
    def terminal(self) -> tuple[str, dict[str, Any]] | None:
        ends = [(event, data) for event, data in self.events if event in TERMINAL]
        return ends[-1] if ends else None

    @property
    def terminal_count(self) -> int:
        return sum(1 for event, _ in self.events if event in TERMINAL)

    @property
    def text(self) -> str:
        return "".join(str(token["t"]) for token in self.named("token"))


def follow(
    url: str,
    task_id: str,
    *,
    timeout_s: float = 15.0,
    on_token: Callable[[int], None] | None = None,
) -> Followed:
    """Reads the task's stream until its terminal event, a transport error, or `timeout_s` (then raises)."""
    seen = Followed()
    started = time.monotonic()
    timeout = httpx.Timeout(timeout_s, connect=2.0)
    try:
        with (
            httpx.Client(base_url=url, timeout=timeout, trust_env=False) as client,
            connect_sse(client, "GET", f"/v1/tasks/{task_id}/stream") as source,
        ):
            if source.response.status_code != 200:
                response = source.response
                response.read()
                seen.events.append(("http", {"status": response.status_code, **response.json()}))
                return seen
            for sse in source.iter_sse():
                if not sse.data:
                    # httpx-sse dispatches a blank line after a heartbeat comment once an id was seen;
                    # the SSE standard dispatches nothing for an empty data buffer.
                    continue
                seen.events.append((sse.event, sse.json()))
                if sse.event == "token" and on_token is not None:
                    on_token(len(seen.named("token")))
                if time.monotonic() - started > timeout_s:
                    raise TimeoutError(f"stream of {task_id} still open after {timeout_s} s")
    except httpx.TransportError as exc:
        seen.transport_error = f"{type(exc).__name__}: {exc}"
    finally:
        seen.seconds = time.monotonic() - started
    return seen
