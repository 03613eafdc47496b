"""A dropped stream resumes with Last-Event-ID and yields every token exactly once (ORCH-9102)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contracts.api_types.data import EndEvent, StartedEvent, TokenEvent
from tests.sdk.live_orchd import MODEL, LiveOrchestratord
from tools.openapi_client import AsyncClient, Client, OrchestratordUnreachable, RetryPolicy, StreamItem


class _CutStream(httpx.SyncByteStream):
    """The response body until `tokens` chunks carrying a token event were passed, then a read error."""

    def __init__(self, inner: httpx.SyncByteStream, tokens: int) -> None:
        self._inner = inner
        self._tokens = tokens

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            yield chunk
            seen += chunk.count(b"event: token")
            if seen >= self._tokens:
                raise httpx.ReadError("connection reset by test")

    def close(self) -> None:
        self._inner.close()


class DroppingTransport(httpx.BaseTransport):
    """Cuts the first `drops` stream responses after `tokens` tokens; records every stream request."""

    def __init__(self, drops: int, tokens: int = 3) -> None:
        self._real = httpx.HTTPTransport()
        self._drops = drops
        self._tokens = tokens
        self.stream_requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._real.handle_request(request)
        if not request.url.path.endswith("/stream"):
            return response
        self.stream_requests.append(request)
        if self._drops == 0:
            return response
        self._drops -= 1
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CutStream(response.stream, self._tokens),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._real.close()


def _tokens(events: list[StreamItem]) -> list[tuple[int, str]]:
    return [(e.i, e.t) for e in events if isinstance(e, TokenEvent)]


def _submit(client: Client, max_tokens: int = 24) -> str:
    body = {"model_ref": MODEL, "prompt": "resume me", "max_tokens": max_tokens, "seed": 11}
    return str(client.submit(body).task_id)


@pytest.mark.req("ORCH-9102", "ORCH-1012")
def test_a_dropped_stream_resumes_after_the_last_token_without_gaps_or_repeats(
    orchd: LiveOrchestratord,
) -> None:
    orchd.set_faults(token_delay_ms=15)
    transport = DroppingTransport(drops=2, tokens=3)
    sleeps: list[float] = []
    with Client(orchd.url, transport=transport, sleep=sleeps.append) as client:
        task_id = _submit(client)
        events = list(client.stream(task_id))
    with Client(orchd.url) as reference:
        replay = list(reference.stream(task_id))
    got = _tokens(events)
    assert got == _tokens(replay)
    assert [i for i, _ in got] == list(range(24))
    assert sum(isinstance(e, StartedEvent) for e in events) == 1
    assert isinstance(events[-1], EndEvent) and events[-1].tokens_out == 24
    resumed_from = [r.headers.get("last-event-id") for r in transport.stream_requests]
    assert resumed_from[0] is None
    assert all(value is not None for value in resumed_from[1:]) and len(resumed_from) == 3
    assert [int(v) for v in resumed_from[1:]] == sorted(int(v) for v in resumed_from[1:])
    assert len(sleeps) == 2


@pytest.mark.req("ORCH-9102")
def test_reconnects_stop_after_five_and_raise_unreachable(orchd: LiveOrchestratord) -> None:
    orchd.set_faults(token_delay_ms=20)
    transport = DroppingTransport(drops=100, tokens=1)
    sleeps: list[float] = []
    with Client(orchd.url, transport=transport, sleep=sleeps.append) as client:
        task_id = _submit(client, max_tokens=200)
        with pytest.raises(OrchestratordUnreachable, match="dropped 6 times"):
            for _ in client.stream(task_id):
                pass
        client.cancel(task_id)
    assert len(sleeps) == RetryPolicy().stream_reconnects == 5
    assert len(transport.stream_requests) == 6


@pytest.mark.req("ORCH-9102", "ORCH-9101")
async def test_the_async_stream_yields_the_same_events_as_the_sync_stream(orchd: LiveOrchestratord) -> None:
    with Client(orchd.url) as client:
        task_id = _submit(client, max_tokens=12)
        sync_events = list(client.stream(task_id))
    async with AsyncClient(orchd.url) as aclient:
        async_events = [event async for event in aclient.stream(task_id)]
    assert async_events == sync_events
    assert len(_tokens(async_events)) == 12
