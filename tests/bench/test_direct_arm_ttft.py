"""The direct arm's time to first token is the mock engine's own: no transport stall between the load
generator and the engine, so added time to first token (orchestrated minus direct) can be judged.

With Nagle left on at the engine's end, the last small chunk of each response waited for the client's
delayed ACK, and every request on a kept-alive connection after the first started ~40 ms late.
"""

from __future__ import annotations

import statistics

import pytest

from bench.arms import Target, run_one
from bench.rawhttp import Connection
from mock_engine.faults import Faults, MockConfig
from mock_engine.server import serve_mock

REQUESTS = 12
# Far below the ~40 ms of a delayed-ACK stall, far above the mock's own cost on a busy machine.
BOUND_MS = 15.0


@pytest.mark.req("ORCH-9204")
@pytest.mark.timeout(30)
@pytest.mark.parametrize("ttft_ms", [0.0, 5.0])
async def test_direct_arm_first_token_is_the_engines_ttft_on_a_kept_alive_connection(ttft_ms: float) -> None:
    async with serve_mock("llamacpp", MockConfig(slots=2), Faults(ttft_ms=ttft_ms)) as mock:
        port = int(mock.base_url.rsplit(":", 1)[1])
        target = Target(arm="direct", host="127.0.0.1", port=port, max_tokens=32, model="mock-model")
        conn = Connection(target.host, target.port)
        try:
            results = [await run_one(conn, target, seed) for seed in range(1, REQUESTS + 1)]
        finally:
            await conn.close()
    assert all(result.ok and result.tokens == 32 for result in results), results
    ttfts = [result.ttft_ms for result in results[1:] if result.ttft_ms is not None]
    assert len(ttfts) == REQUESTS - 1
    assert statistics.median(ttfts) < ttft_ms + BOUND_MS, ttfts
