"""SSE framing on the wire: every line of every frame, heartbeat comments included, ends with `\\n`."""

from __future__ import annotations

import pytest

from mock_engine.faults import Faults
from tests.orchestratord.orchd_harness import MODEL, MockReplica, make_config, running_daemon

# A first token late enough that several heartbeats (every 20 ms) go out before `started`.
SLOW_START = [MockReplica(faults=Faults(ttft_ms=150))]


def frames(body: bytes) -> list[bytes]:
    """The frames of an SSE body: blocks of lines separated by one empty line."""
    assert body.endswith(b"\n\n"), body[-20:]
    return body[:-2].split(b"\n\n")


@pytest.mark.req("ORCH-1017", "ORCH-1014")
async def test_task_stream_frames_and_pings_use_newline_line_endings() -> None:
    config = make_config(streaming={"heartbeat_ms": 20})
    async with running_daemon(SLOW_START, config=config) as daemon:
        task_id = (await daemon.submit(max_tokens=2)).json()["task_id"]
        response = await daemon.client.get(f"/v1/tasks/{task_id}/stream")
    body = response.content
    assert b"\r" not in body, body[:200]
    assert b": ping\n\n" in body
    kinds = [frame.split(b"\n")[0] for frame in frames(body)]
    assert set(kinds) == {b": ping", b"event: started", b"event: token", b"event: end"}


@pytest.mark.req("ORCH-1017", "ORCH-1014", "ORCH-1060")
async def test_openai_stream_pings_use_newline_line_endings() -> None:
    config = make_config(streaming={"heartbeat_ms": 20})
    async with running_daemon(SLOW_START, config=config) as daemon:
        response = await daemon.client.post(
            "/v1/completions", json={"model": MODEL, "prompt": "hi", "max_tokens": 2, "stream": True}
        )
    body = response.content
    assert response.status_code == 200
    assert b"\r" not in body, body[:200]
    assert b": ping\n\n" in body
    assert body.endswith(b"data: [DONE]\n\n")
