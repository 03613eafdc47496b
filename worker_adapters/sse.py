"""The one SSE reader shared by every HTTP adapter.

httpx-sse's decoders implement the spec: `data:` with or without the single space (TGI sends none),
`:` keep-alive comments skipped, multi-line data joined, events split across chunks reassembled. The
reader is fed one received chunk at a time and returns every complete event's data, so a burst of tokens
in one chunk costs one read, not one await per event.
"""

from __future__ import annotations

from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from orchestrator_core.errors import Internal


def check_event_stream(content_type: str, engine: str) -> None:
    """Raises INTERNAL unless `content_type` is an event stream's."""
    media_type = content_type.partition(";")[0]
    if "text/event-stream" not in media_type:
        raise Internal(
            f"{engine} did not answer with an event stream: Content-Type {media_type!r}", engine=engine
        )


class SseDataReader:
    """Incremental event-stream decoder: text chunks in, the `data` of each complete event out."""

    def __init__(self) -> None:
        self._lines = SSELineDecoder()
        self._events = SSEDecoder()

    def feed(self, text: str) -> list[str]:
        """The data of every event completed by `text` (events without data are skipped)."""
        return self._decode(self._lines.decode(text)) if text else []

    def flush(self) -> list[str]:
        """What the last unterminated line completes at the end of the body (an event without its blank
        line is incomplete and dropped, as the SSE spec says)."""
        return self._decode(self._lines.flush())

    def _decode(self, lines: list[str]) -> list[str]:
        found: list[str] = []
        decode = self._events.decode
        for line in lines:
            event = decode(line)
            if event is not None and event.data:
                found.append(event.data)
        return found
