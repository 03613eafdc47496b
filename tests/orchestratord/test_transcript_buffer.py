"""The transcript buffer: what live, late and resuming readers receive, and what a finished one costs.

The expected bytes come from the plain event list (each event's frame as `encode_*` built it), never from
the transcript under test.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator_core.errors import NotFound
from orchestratord.services.transcript import HEARTBEAT, StreamEvent, Transcript, encode_event, encode_token

STARTED = encode_event("started", {"pool_id": "pool-a", "replica_id": "r0", "seed": 7})
METRICS = {"queue_depth": 3, "kv_warmth": False, "on_time_probability": 1.0}
# A retained token may cost its frame (about 50 bytes for a short token) plus a 4-byte offset; the list of
# frame objects used before cost about 170 bytes a token.
MAX_BYTES_PER_TOKEN = 64


@dataclass(frozen=True)
class Plan:
    """A task's events in append order, and after which of them the test lets readers run."""

    events: list[StreamEvent]
    pauses: frozenset[int]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    events: list[StreamEvent] = []
    if draw(st.booleans()):
        events += [STARTED, encode_event("metrics", METRICS)]
        steps = draw(st.lists(st.sampled_from(["token", "metrics"]), max_size=30))
        texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
        index = 0
        for step in steps:
            if step == "token":
                events.append(encode_token(draw(texts), index))
                index += 1
            else:
                events.append(encode_event("metrics", METRICS | {"queue_depth": len(events)}))
    terminal = draw(st.sampled_from(["end", "error"]))
    events.append(encode_event(terminal, {"stop_reason": "eos"} if terminal == "end" else {"code": "X"}))
    pauses = draw(st.frozensets(st.integers(0, len(events) - 1)))
    return Plan(events, pauses)


def expected(events: list[StreamEvent], last_index: int | None, verbose: bool) -> bytes:
    """What a reader gets from a finished task: all frames, or `started` and the frames after token n.

    A `Last-Event-ID` beyond the last token resumes after the last token (or after `started`).
    """

    def wanted(event: StreamEvent) -> bool:
        return verbose or event.kind != "metrics"

    if last_index is None:
        return b"".join(e.frame for e in events if wanted(e))
    tokens = [k for k, e in enumerate(events) if e.index is not None]
    started = [k for k, e in enumerate(events) if e.kind == "started"]
    if last_index < len(tokens):
        resume = tokens[last_index] + 1
    else:
        resume = (tokens or started or [-1])[-1] + 1
    prefix = events[started[0]].frame if started else b""
    return prefix + b"".join(e.frame for e in events[resume:] if wanted(e))


async def read_all(transcript: Transcript, last_index: int | None, verbose: bool) -> bytes:
    return b"".join([chunk async for chunk in transcript.follow(last_index, verbose=verbose)])


READERS = [(None, False), (None, True), (0, False), (2, True), (5, False), (40, True)]


@pytest.mark.req("ORCH-1012", "ORCH-1013", "ORCH-1016", "ORCH-1017")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), join_at=st.integers(0, 40))
def test_live_late_and_resuming_readers_get_exactly_the_frames_of_the_event_list(
    plan: Plan, join_at: int
) -> None:
    async def scenario() -> None:
        transcript = Transcript()
        early = [asyncio.create_task(read_all(transcript, n, v)) for n, v in READERS]
        late: list[asyncio.Task[bytes]] = []
        for position, event in enumerate(plan.events):
            if position == join_at:
                late = [asyncio.create_task(read_all(transcript, n, v)) for n, v in READERS]
            assert transcript.append(event)
            if position in plan.pauses:
                await asyncio.sleep(0)
        assert not transcript.append(encode_token("after the end", 99))
        outputs = [await asyncio.gather(*early), await asyncio.gather(*late)]
        outputs.append([await read_all(transcript, n, v) for n, v in READERS])
        for got in outputs:
            if got:
                want = [expected(plan.events, n, verbose) for n, verbose in READERS]
                assert got == want

    asyncio.run(scenario())


@pytest.mark.req("ORCH-1016")
async def test_an_evicted_transcript_keeps_its_token_count_and_refuses_readers() -> None:
    transcript = Transcript()
    for event in (STARTED, encode_token("a", 0), encode_token("b", 1), encode_event("end", {})):
        transcript.append(event)
    transcript.evict()
    assert transcript.evicted and transcript.tokens == 2 and transcript.frames() == b""
    with pytest.raises(NotFound, match="evicted"):
        await read_all(transcript, 0, False)


@pytest.mark.req("ORCH-1016")
async def test_a_transcript_being_read_or_still_open_is_not_evicted() -> None:
    transcript = Transcript()
    transcript.append(STARTED)
    transcript.evict()
    assert not transcript.evicted  # still open
    transcript.append(encode_event("end", {}))
    reader = transcript.follow()
    first = await anext(reader)
    transcript.evict()
    assert not transcript.evicted and first == STARTED.frame + b"event: end\ndata: {}\n\n"
    await reader.aclose()
    transcript.evict()
    assert transcript.evicted


@pytest.mark.req("ORCH-1014", "ORCH-1013")
async def test_an_idle_reader_gets_heartbeats_and_then_every_frame_it_waited_for() -> None:
    transcript = Transcript()
    reader = transcript.follow(heartbeat_s=0.01)
    assert [await anext(reader), await anext(reader)] == [HEARTBEAT, HEARTBEAT]
    transcript.append(STARTED)
    transcript.append(encode_event("end", {}))
    assert await anext(reader) == STARTED.frame + b"event: end\ndata: {}\n\n"
    with pytest.raises(StopAsyncIteration):
        await anext(reader)
    assert transcript.readers == 0


@pytest.mark.req("ORCH-1014")
async def test_the_heartbeat_interval_counts_from_the_last_chunk_a_reader_got() -> None:
    transcript = Transcript()
    transcript.append(STARTED)
    reader = transcript.follow(heartbeat_s=0.3)
    chunks = [await anext(reader)]
    # Twelve tokens 50 ms apart: the stream lasts twice the interval, but is never idle for as long.
    for index in range(12):
        await asyncio.sleep(0.05)
        transcript.append(encode_token("x", index))
        chunks.append(await anext(reader))
    assert HEARTBEAT not in chunks
    await reader.aclose()


def finished_transcript(tokens: int) -> Transcript:
    transcript = Transcript()
    transcript.append(STARTED)
    transcript.append(encode_event("metrics", METRICS))
    for index in range(tokens):
        transcript.append(encode_token(" tok", index))
        if index % 64 == 63:
            transcript.append(encode_event("metrics", METRICS))
    transcript.append(encode_event("end", {"tokens_out": tokens, "stop_reason": "max_tokens"}))
    return transcript


def retained_bytes(tasks: int, tokens: int) -> tuple[int, int]:
    """Bytes Python holds for `tasks` finished transcripts of `tokens` tokens, and what they account."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [finished_transcript(tokens) for _ in range(tasks)]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held, sum(t.retained_bytes for t in kept)


@pytest.mark.req("ORCH-1016")
def test_a_finished_transcript_holds_its_frames_and_a_4_byte_offset_per_token() -> None:
    tasks, tokens = 100, 512
    held, accounted = retained_bytes(tasks, tokens)
    short_held, _ = retained_bytes(tasks, 1)
    per_token = (held - short_held) / (tasks * (tokens - 1))
    assert per_token <= MAX_BYTES_PER_TOKEN, f"{per_token:.1f} bytes per retained token"
    # The budget counts what is really held: buffers, not the objects around them.
    assert accounted <= held <= accounted * 1.1 + tasks * 512
