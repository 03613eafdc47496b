"""A task's event transcript: pre-encoded SSE frames in one buffer, followed live by any number of readers.

Each event is encoded once (one orjson call per token) when it is appended and copied into one byte buffer;
readers slice the bytes they have not sent yet, so a burst of tokens leaves in one write and a resume is one
slice, never a re-encoding (ORCH-1012, ORCH-1013). A token costs its frame plus a 4-byte offset, no object
of its own. `metrics` frames, for verbose readers only, sit in a second buffer with the offset of the main
buffer they were appended at. At the end the buffers are trimmed to size; the retention budget may later
evict a finished transcript that nobody reads (ORCH-1016).

Beside the frames it keeps the typed `Started` and terminal event (`outcome`) and the token texts in one
UTF-8 buffer, so the OpenAI relay follows typed values (`follow_text`) and never parses a frame.
"""

from __future__ import annotations

import asyncio
import bisect
import sys
from array import array
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from orchestrator_core.errors import NotFound

from .task_events import Ended, Failed, Outcome, Progress, Started, sse_frame, token_frame

TERMINAL_KINDS = frozenset({"end", "error"})
EVICTED = (
    "the transcript was evicted before its retention ended: finished transcripts exceeded "
    "streaming.transcript_retention_max_bytes"
)
_OFFSETS = "I"  # 4-byte unsigned offsets: a transcript stays far below 4 GiB (max_tokens is bounded)
# The SSE comment a reader gets when nothing was sent to it for the heartbeat interval (ORCH-1014).
HEARTBEAT = b": ping\n\n"


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One SSE event on its way into a transcript: its kind, its frame, and for a token its index and text;
    `typed` is the `Started` or terminal event the frame was encoded from."""

    kind: str
    frame: bytes
    index: int | None = None
    text: str | None = None
    typed: Started | Outcome | None = None


def encode_event(kind: str, payload: object, index: int | None = None) -> StreamEvent:
    return StreamEvent(kind, sse_frame(kind, payload, index), index)


def encode_token(text: str, index: int) -> StreamEvent:
    return StreamEvent("token", token_frame(text, index), index, text)


def typed_event(event: Started | Progress | Outcome) -> StreamEvent:
    """The transcript entry of a typed event, its frame encoded once here."""
    if isinstance(event, Progress):
        return StreamEvent("metrics", event.frame())
    kind = "started" if isinstance(event, Started) else "end" if isinstance(event, Ended) else "error"
    return StreamEvent(kind, event.frame(), typed=event)


@dataclass(frozen=True, slots=True)
class Cursor:
    """How much of a transcript was handed on: main-buffer bytes, tokens, text bytes, metrics frames."""

    frames: int = 0
    tokens: int = 0
    texts: int = 0
    metrics: int = 0


@dataclass(frozen=True, slots=True)
class Chunk:
    """What a transcript gained after a cursor, as its own bytes and offsets (ORCH-4108): another instance
    `extend`s an empty transcript with the chunks in order and holds the same buffers, so its readers slice
    and resume exactly as on the instance that relays the task. Offsets are absolute."""

    frames: bytes
    token_ends: array[int]
    texts: bytes
    metrics: bytes
    metrics_ends: array[int]
    metrics_at: array[int]
    started_end: int
    terminal_at: int
    started: Started | None
    outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class TextBatch:
    """What the relay gets in one round: the text of the tokens since the last round, and the `started`
    and terminal events when they arrived in it."""

    text: str
    started: Started | None
    outcome: Outcome | None


class Transcript:
    """Append-only event frames; closed after the first terminal event, later appends are dropped."""

    __slots__ = (
        "_changed",
        "_frames",
        "_metrics",
        "_metrics_at",
        "_metrics_ends",
        "_readers",
        "_started_end",
        "_terminal_at",
        "_texts",
        "_token_ends",
        "_tokens",
        "closed",
        "evicted",
        "outcome",
        "started_event",
        "terminal_kind",
    )

    def __init__(self) -> None:
        # started, token and terminal frames in order; bytes once closed
        self._frames: bytearray | bytes = bytearray()
        self._token_ends = array(_OFFSETS)  # end of token i's frame in `_frames`
        self._started_end = 0
        self._terminal_at = 0
        self._metrics: bytearray | bytes = bytearray()
        self._metrics_ends = array(_OFFSETS)  # end of metrics frame k in `_metrics`
        self._metrics_at = array(_OFFSETS)  # length of `_frames` when metrics frame k was appended
        self._texts: bytearray | bytes = bytearray()  # every token's text, UTF-8, in order
        self._tokens = 0
        self._readers = 0
        self._changed: asyncio.Event | None = None  # created only while a reader waits
        self.closed = False
        self.evicted = False
        self.terminal_kind: str | None = None
        self.started_event: Started | None = None
        self.outcome: Outcome | None = None

    @property
    def tokens(self) -> int:
        return self._tokens

    @property
    def started(self) -> bool:
        return self._started_end > 0

    @property
    def readers(self) -> int:
        return self._readers

    @property
    def retained_bytes(self) -> int:
        """Bytes held by the buffers (what the retention budget counts)."""
        buffers = (
            self._frames,
            self._metrics,
            self._texts,
            self._token_ends,
            self._metrics_ends,
            self._metrics_at,
        )
        return sum(sys.getsizeof(buffer) for buffer in buffers)

    def append_token(self, text: str, index: int) -> bool:
        """Adds token `index` unless the transcript is closed; returns whether it was added. The relay's
        hot path: the frame is built here and no event object is made (a frozen dataclass per token cost
        about 0.3 µs, 3-5% of the relay at 64 streams)."""
        if self.closed:
            return False
        self._add_token(token_frame(text, index), text)
        return True

    def _add_token(self, frame: bytes, text: str | None) -> None:
        frames = self._frames
        assert isinstance(frames, bytearray)  # open transcripts grow in place
        frames += frame
        self._token_ends.append(len(frames))
        self._tokens += 1
        if text:
            self._texts += text.encode()
        if self._changed is not None:
            self._wake()

    def append(self, event: StreamEvent) -> bool:
        """Adds `event` unless the transcript is closed; returns whether it was added."""
        if self.closed:
            return False
        if event.index is not None:
            self._add_token(event.frame, event.text)
            return True
        frames = self._frames
        assert isinstance(frames, bytearray)  # open transcripts grow in place
        if event.kind == "metrics":
            assert isinstance(self._metrics, bytearray)
            self._metrics += event.frame
            self._metrics_ends.append(len(self._metrics))
            self._metrics_at.append(len(frames))
        else:
            if event.kind in TERMINAL_KINDS:
                self._terminal_at = len(frames)
            frames += event.frame
            if event.kind == "started":
                self._started_end = len(frames)
                if isinstance(event.typed, Started):
                    self.started_event = event.typed
        if isinstance(event.typed, Ended | Failed):
            self.outcome = event.typed
        if event.kind in TERMINAL_KINDS:
            self._close(event.kind)
        self._wake()
        return True

    def _close(self, kind: str) -> None:
        """Marks the end and trims every buffer to its size: nothing grows any more."""
        self.closed = True
        self.terminal_kind = kind
        self._frames = bytes(self._frames)
        self._metrics = bytes(self._metrics)
        self._texts = bytes(self._texts)
        self._token_ends = self._token_ends[:]
        self._metrics_ends = self._metrics_ends[:]
        self._metrics_at = self._metrics_at[:]

    @property
    def evictable(self) -> bool:
        """Finished, not evicted yet, and nobody reading it."""
        return self.closed and not self.evicted and self._readers == 0

    def evict(self) -> None:
        """Drops the frames of an evictable transcript; readers that come later get NOT_FOUND."""
        if not self.evictable:
            return
        self.evicted = True
        self._frames = self._metrics = self._texts = b""
        self._token_ends = array(_OFFSETS)
        self._metrics_ends = array(_OFFSETS)
        self._metrics_at = array(_OFFSETS)

    def cursor(self) -> Cursor:
        """Where the transcript ends now."""
        return Cursor(len(self._frames), self._tokens, len(self._texts), len(self._metrics_ends))

    def chunk_since(self, cursor: Cursor) -> Chunk | None:
        """What was appended after `cursor` (None: nothing); the started and terminal events ride with the
        chunk that holds their frames."""
        frames_end = len(self._frames)
        if frames_end == cursor.frames and len(self._metrics_ends) == cursor.metrics:
            return None
        started_new = cursor.frames < self._started_end
        return Chunk(
            frames=bytes(self._frames[cursor.frames :]),
            token_ends=self._token_ends[cursor.tokens :],
            texts=bytes(self._texts[cursor.texts :]),
            metrics=bytes(self._metrics[self._metrics_ends[cursor.metrics - 1] if cursor.metrics else 0 :]),
            metrics_ends=self._metrics_ends[cursor.metrics :],
            metrics_at=self._metrics_at[cursor.metrics :],
            started_end=self._started_end,
            terminal_at=self._terminal_at,
            started=self.started_event if started_new else None,
            outcome=self.outcome if self.closed else None,
        )

    def extend(self, chunk: Chunk) -> None:
        """Appends a chunk cut from the same task's transcript on another instance (`chunk_since`)."""
        if self.closed:
            return
        frames, metrics = self._frames, self._metrics
        assert isinstance(frames, bytearray) and isinstance(metrics, bytearray)
        frames += chunk.frames
        self._token_ends.extend(chunk.token_ends)
        self._tokens += len(chunk.token_ends)
        self._texts += chunk.texts
        metrics += chunk.metrics
        self._metrics_ends.extend(chunk.metrics_ends)
        self._metrics_at.extend(chunk.metrics_at)
        self._started_end = chunk.started_end
        if chunk.started is not None:
            self.started_event = chunk.started
        if chunk.outcome is not None:
            self._terminal_at = chunk.terminal_at
            self.outcome = chunk.outcome
            self._close("error" if isinstance(chunk.outcome, Failed) else "end")
        self._wake()

    def frames(self, *, verbose: bool = False) -> bytes:
        """Every frame appended so far, as a reader that starts now receives them first."""
        return self._slice(0, len(self._frames), 0 if verbose else None)[0]

    def text(self) -> str:
        """The text of every token appended so far."""
        return self._texts.decode()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait(self, until: float | None) -> bool:
        """Waits for the next append until the loop time `until` (None: no limit); whether one came.

        Only this wait times out, never the reader's generator around it, so a heartbeat leaves the reader
        where it was.
        """
        if self._changed is None:
            self._changed = asyncio.Event()
        if until is None:
            await self._changed.wait()
            return True
        try:
            async with asyncio.timeout_at(until):
                await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def appended(self) -> None:
        """Returns after the next append or close; for a writer that hands the transcript on (ORCH-4108)."""
        if not self.closed:
            await self._wait(None)

    def _resume_at(self, last_index: int) -> int | None:
        """Where the frames after token `last_index` begin; None while that token is still to come."""
        if last_index < len(self._token_ends):
            return self._token_ends[last_index]
        if self.closed:
            return self._terminal_at
        return None

    def _slice(self, start: int, end: int, next_metrics: int | None) -> tuple[bytes, int | None]:
        """Frames in [start, end), with the metrics frames due in between when `next_metrics` is set."""
        frames = self._frames
        if next_metrics is None:
            return bytes(frames[start:end]), None
        parts: list[bytes | bytearray] = []
        at = start
        while next_metrics < len(self._metrics_at) and self._metrics_at[next_metrics] <= end:
            offset = self._metrics_at[next_metrics]
            parts.append(frames[at:offset])
            at = offset
            begin = self._metrics_ends[next_metrics - 1] if next_metrics else 0
            parts.append(self._metrics[begin : self._metrics_ends[next_metrics]])
            next_metrics += 1
        parts.append(frames[at:end])
        return b"".join(parts), next_metrics

    async def follow(
        self, last_index: int | None = None, *, verbose: bool = False, heartbeat_s: float | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Frames after token `last_index` (all when None), batched, until the terminal event.

        A resumed stream gets `started` again first, so the replay identity is always known; `metrics`
        events go to verbose readers only. With `heartbeat_s`, `HEARTBEAT` comes whenever that long passed
        since the last chunk. An evicted transcript is NOT_FOUND, like an expired one.
        """
        if self.evicted:
            raise NotFound(EVICTED)
        loop = asyncio.get_running_loop()
        idle_until = None if heartbeat_s is None else loop.time() + heartbeat_s
        self._readers += 1
        try:
            position: int | None = 0 if last_index is None else None
            started_sent = last_index is None
            next_metrics: int | None = 0 if verbose else None
            while True:
                chunk = b""
                if position is None:
                    assert last_index is not None
                    if not started_sent and self._started_end:
                        chunk = bytes(self._frames[: self._started_end])
                        started_sent = True
                    position = self._resume_at(last_index)
                    if position is not None and verbose:
                        next_metrics = bisect.bisect_left(self._metrics_at, position)
                if position is not None:
                    end = len(self._frames)
                    batch, next_metrics = self._slice(position, end, next_metrics)
                    chunk = chunk + batch if chunk else batch
                    position = end
                if not chunk:
                    if self.closed:
                        return
                    if await self._wait(idle_until):
                        continue
                    chunk = HEARTBEAT
                # Then round again at once: more may have been appended while the chunk was being sent.
                yield chunk
                if heartbeat_s is not None:
                    idle_until = loop.time() + heartbeat_s
        finally:
            self._readers -= 1

    async def follow_text(
        self, *, heartbeat_s: float | None = None
    ) -> AsyncGenerator[TextBatch | None, None]:
        """The task from its start as typed batches (`TextBatch`), until the terminal event; with
        `heartbeat_s`, None whenever that long passed with nothing to send. Tokens are sliced off the text
        buffer at whole-token boundaries, so each slice is valid UTF-8."""
        if self.evicted:
            raise NotFound(EVICTED)
        loop = asyncio.get_running_loop()
        idle_until = None if heartbeat_s is None else loop.time() + heartbeat_s
        self._readers += 1
        try:
            sent_text = 0
            started_sent = False
            while True:
                texts = self._texts
                text = texts[sent_text:].decode() if len(texts) > sent_text else ""
                sent_text = len(texts)
                started = None
                if not started_sent and self.started_event is not None:
                    started, started_sent = self.started_event, True
                outcome = self.outcome if self.closed else None
                batch: TextBatch | None = None
                if text or started is not None or outcome is not None:
                    batch = TextBatch(text, started, outcome)
                elif self.closed:
                    return
                elif await self._wait(idle_until):
                    continue
                yield batch
                if outcome is not None:
                    return
                if heartbeat_s is not None:
                    idle_until = loop.time() + heartbeat_s
        finally:
            self._readers -= 1
