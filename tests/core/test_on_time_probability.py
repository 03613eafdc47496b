"""`on_time_probability` is the normal tail at predicted start plus decode, with the pool's spread
(ORCH-2208)."""

from __future__ import annotations

import math

import pytest

from orchestrator_core.predictions import Ahead, ServiceRate, predict


@pytest.mark.req("ORCH-2208")
def test_on_time_probability_is_the_normal_tail_at_start_plus_decode() -> None:
    rate = ServiceRate(tokens_per_s=20.0, first_token_ms=500.0, slots=1, cv=0.2)
    ahead = Ahead(tasks=2, tokens=40)
    deadline = 5000.0
    prediction = predict(ahead, tokens=20, rate=rate, slots_free=0, running=0.0, deadline_in_ms=deadline)
    mu = prediction.predicted_start_ms + prediction.predicted_decode_ms
    assert mu == (2 * 500.0 + 2000.0) + (500.0 + 1000.0)
    z = (deadline - mu) / (0.2 * mu)
    assert prediction.on_time_probability == pytest.approx(0.5 * (1.0 + math.erf(z / math.sqrt(2.0))))
    assert (
        predict(
            ahead, tokens=20, rate=rate, slots_free=0, running=0.0, deadline_in_ms=None
        ).on_time_probability
        == 1.0
    )
    step = ServiceRate(tokens_per_s=20.0, first_token_ms=500.0, slots=1, cv=0.0)
    assert (
        predict(ahead, tokens=20, rate=step, slots_free=0, running=0.0, deadline_in_ms=mu).on_time_probability
        == 1.0
    )
    assert (
        predict(
            ahead, tokens=20, rate=step, slots_free=0, running=0.0, deadline_in_ms=mu - 1
        ).on_time_probability
        == 0.0
    )
