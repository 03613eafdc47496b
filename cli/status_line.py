"""The live status line of `llorch submit` on a terminal's stderr: queue position, then the replica the
task started on, then tokens/s (ORCH-9104). It is drawn only when stderr is a terminal.

When stdout is the same terminal, the line is cleared before token text is written and is not redrawn
while text flows (redrawing would interleave with the text); tokens/s then appears in the closing line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from contracts.api_types.data import AdmissionResponse, EndEvent, StartedEvent

CLEAR = "\r\x1b[2K"
REDRAW_INTERVAL_S = 0.1


class StatusLine:
    """Draws and updates one line; every method is a no-op when disabled."""

    def __init__(
        self, err: TextIO, *, enabled: bool, text_on_same_terminal: bool, clock: Callable[[], float]
    ) -> None:
        self._err = err
        self._enabled = enabled
        self._shared = text_on_same_terminal
        self._clock = clock
        self._first_token_at: float | None = None
        self._tokens = 0
        self._where = ""
        self._drawn = False
        self._last_draw = 0.0

    @classmethod
    def for_streams(cls, err: TextIO, *, err_tty: bool, out_tty: bool) -> StatusLine:
        return cls(err, enabled=err_tty, text_on_same_terminal=out_tty, clock=time.monotonic)

    def queued(self, admission: AdmissionResponse) -> None:
        self._draw(
            f"queued at position {admission.queue_position}, "
            f"predicted start in {admission.predicted_start_ms} ms"
        )

    def started(self, event: StartedEvent) -> None:
        self._where = f"{event.replica_id} ({event.engine} {event.engine_version})"
        self._draw(f"started on {self._where}")

    def before_text(self) -> None:
        if self._drawn and self._shared:
            self._clear()

    def token(self) -> None:
        now = self._clock()
        if self._first_token_at is None:
            self._first_token_at = now
        self._tokens += 1
        if not self._shared and now - self._last_draw >= REDRAW_INTERVAL_S:
            self._draw(f"{self._where}: {self._tokens} tokens, {self.rate():.1f} tok/s")

    def rate(self) -> float:
        if self._first_token_at is None or self._tokens < 2:
            return 0.0
        elapsed = self._clock() - self._first_token_at
        return (self._tokens - 1) / elapsed if elapsed > 0 else 0.0

    def finished(self, end: EndEvent, task_id: str) -> None:
        if not self._enabled:
            return
        self._clear()
        self._err.write(
            f"task {task_id}: {end.tokens_out} tokens, {self.rate():.1f} tok/s on {self._where or '-'}, "
            f"stop: {end.stop_reason}\n"
        )
        self._err.flush()

    def close(self) -> None:
        if self._drawn:
            self._clear()

    def _draw(self, text: str) -> None:
        if not self._enabled:
            return
        self._err.write(CLEAR + text)
        self._err.flush()
        self._drawn = True
        self._last_draw = self._clock()

    def _clear(self) -> None:
        if self._enabled:
            self._err.write(CLEAR)
            self._err.flush()
        self._drawn = False
