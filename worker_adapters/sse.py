"""The one SSE reader shared by every HTTP adapter.

httpx-sse implements the spec: it accepts `data:` with or without the single space (TGI sends none),
skips `:` keep-alive comments, joins multi-line data and reassembles events split across chunks.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx
from httpx_sse import EventSource


async def iter_sse_data(response: httpx.Response) -> AsyncGenerator[str, None]:
    """Yield the `data` of each event of an event-stream response, skipping events without data."""
    source = EventSource(response)
    events = source.aiter_sse()
    try:
        async for event in events:
            if event.data:
                yield event.data
    finally:
        await events.aclose()
