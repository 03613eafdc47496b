"""The retry hint of a queue refusal (ORCH-2014) and the EWMA priors and samples (ORCH-2205)."""

from __future__ import annotations

import pytest

from orchestrator_core.predictions import ServiceRate, ThroughputModel, retry_after_ms


@pytest.mark.req("ORCH-2014")
def test_retry_hint_is_first_token_plus_tokens_at_the_rate_with_a_100_ms_floor() -> None:
    rate = ServiceRate(tokens_per_s=20.0, first_token_ms=500.0, slots=4)
    assert retry_after_ms(rate, 10) == 500 + 500
    # Grows with longer tasks and with slower replicas; not divided by the pool's slots.
    assert retry_after_ms(rate, 40) > retry_after_ms(rate, 10)
    assert retry_after_ms(ServiceRate(5.0, 500.0, 4), 10) > retry_after_ms(rate, 10)
    assert retry_after_ms(ServiceRate(100_000.0, 0.0, 1), 1) == 100


@pytest.mark.req("ORCH-2205")
def test_priors_hold_until_a_replica_completes_a_task_and_samples_use_alpha() -> None:
    model = ThroughputModel()
    assert (model.tokens_per_s("r0"), model.first_token_ms("r0")) == (20.0, 500.0)
    model.observe("r0", tokens_out=1, decode_ms=0.0, first_token_ms=300.0)
    assert model.tokens_per_s("r0") == 20.0  # a one-token task says nothing about the decode rate
    model.observe("r0", tokens_out=10, decode_ms=1000.0, first_token_ms=300.0)
    assert model.tokens_per_s("r0") == 10.0  # the first sample replaces the prior
    model.observe("r0", tokens_out=30, decode_ms=1000.0, first_token_ms=300.0)
    assert model.tokens_per_s("r0") == pytest.approx(10.0 + 0.2 * (30.0 - 10.0))
    model.forget("r0")
    assert (model.tokens_per_s("r0"), model.first_token_ms("r0")) == (20.0, 500.0)
