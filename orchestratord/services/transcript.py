"""A task's event transcript: pre-encoded SSE frames, followed live by any number of readers.

Each event is encoded once (one orjson call per token) when it is appended; readers only slice the list and
join the frames they have not sent yet, so a burst of tokens leaves in one write (ORCH-1012, ORCH-1013).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

TERMINAL_KINDS = frozenset({"end", "error"})


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One SSE event: its kind, its token index (token events only) and the encoded frame."""

    kind: str
    frame: bytes
    index: int | None = None


def encode_event(kind: str, payload: object, index: int | None = None) -> StreamEvent:
    head = b"event: " + kind.encode()
    if index is not None:
        head += b"\nid: " + str(index).encode()
    return StreamEvent(kind, head + b"\ndata: " + orjson.dumps(payload) + b"\n\n", index)


def encode_token(text: str, index: int) -> StreamEvent:
    return StreamEvent(
        "token",
        b"event: token\nid: %d\ndata: " % index + orjson.dumps({"t": text, "i": index}) + b"\n\n",
        index,
    )


class Transcript:
    """Append-only list of events; closed after the first terminal event, later appends are dropped."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self._token_positions: list[int] = []
        self.closed = False
        self._changed = asyncio.Event()
        # Whether a reader waits on `_changed`: appends with nobody waiting allocate and set nothing.
        self._waited = False

    @property
    def tokens(self) -> int:
        return len(self._token_positions)

    @property
    def started(self) -> bool:
        return bool(self.events)

    def append(self, event: StreamEvent) -> bool:
        """Adds `event` unless the transcript is closed; returns whether it was added."""
        if self.closed:
            return False
        if event.index is not None:
            self._token_positions.append(len(self.events))
        self.events.append(event)
        if event.kind in TERMINAL_KINDS:
            self.closed = True
        self._wake()
        return True

    def _wake(self) -> None:
        if self._waited:
            self._waited = False
            self._changed.set()
            self._changed = asyncio.Event()

    def _resume_position(self, last_index: int | None) -> int:
        if last_index is None:
            return 0
        if 0 <= last_index < len(self._token_positions):
            return self._token_positions[last_index] + 1
        return 0

    async def follow(self, last_index: int | None = None, *, verbose: bool = False) -> AsyncIterator[bytes]:
        """Frames after token `last_index` (all when None), batched, until the terminal event.

        A resumed stream gets `started` again first, so the replay identity is always known; `metrics`
        events go to verbose readers only.
        """
        position = self._resume_position(last_index)
        if position > 0 and self.events[0].kind == "started":
            yield self.events[0].frame
        while True:
            batch = self.events[position:]
            position += len(batch)
            if last_index is not None or not verbose:
                batch = [e for e in batch if _wanted(e, last_index, verbose)]
            if batch:
                yield b"".join(event.frame for event in batch)
            if position < len(self.events):
                continue  # appended while the batch was being sent
            if self.closed:
                return
            self._waited = True
            await self._changed.wait()


def _wanted(event: StreamEvent, last_index: int | None, verbose: bool) -> bool:
    if event.kind == "metrics":
        return verbose
    if last_index is None or event.index is None:
        return True
    return event.index > last_index
