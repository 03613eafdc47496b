"""Multi-byte characters cut anywhere by the engine's HTTP chunks still arrive whole in token events, and the
token texts concatenate to exactly the engine's text (ORCH-7009)."""

from __future__ import annotations

import pytest

from tests.adapters.scripted_engine import Reply
from tests.adapters.test_wire_quirks import STREAMS, run, split

# Two, three and four byte sequences: é, 日本語, 🎉.
FIRST = " 日本"
SECOND = "語 🎉é"


def stream_with_wide_characters(engine: str) -> bytes:
    body = STREAMS[engine].replace(b'" Pa"', f'"{FIRST}"'.encode())
    body = body.replace('"ris é"'.encode(), f'"{SECOND}"'.encode())
    return body.replace('" Paris é"'.encode(), f'"{FIRST}{SECOND}"'.encode())


@pytest.mark.req("ORCH-7009", "ORCH-7015")
@pytest.mark.parametrize("engine", list(STREAMS))
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5])
async def test_characters_split_across_chunks_are_never_split_in_token_events(
    engine: str, chunk_size: int
) -> None:
    body = stream_with_wide_characters(engine)
    assert FIRST.encode() in body and SECOND.encode() in body
    tokens, final = await run(engine, Reply.sse(split(body, chunk_size)))
    texts = [t.text for t in tokens]
    assert texts == [FIRST, SECOND]
    assert all("\ufffd" not in text for text in texts)
    assert "".join(texts) == FIRST + SECOND
    assert final.tokens_out == 2


@pytest.mark.req("ORCH-7009", "ORCH-7012")
async def test_tgi_token_texts_concatenate_to_its_generated_text() -> None:
    body = stream_with_wide_characters("tgi")
    generated = f'"generated_text":"{FIRST}{SECOND}"'.encode()
    assert generated in body, "the engine's own text is in its final event"
    tokens, _ = await run("tgi", Reply.sse(split(body, 1)))
    assert "".join(t.text for t in tokens) == FIRST + SECOND
