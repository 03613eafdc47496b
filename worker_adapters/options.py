"""Tuning knobs of an HTTP adapter: timeouts, retry policy and the facts an engine does not report."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker_adapters.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class AdapterOptions:
    """Per-replica adapter settings.

    `probe_timeout_s` bounds health, props and metrics calls; `connect_timeout_s` bounds opening a
    stream; `idle_timeout_s` is the longest gap between two tokens and `first_token_timeout_s` the
    longest wait for the first one (both raise DecodeTimeout). `slots_total` and `ctx_max` are used only
    when the engine does not report them (vLLM has no slots, Triton no context size).
    """

    probe_timeout_s: float = 1.0
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 600.0
    idle_timeout_s: float = 30.0
    first_token_timeout_s: float = 120.0
    max_connections: int = 64
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    model: str | None = None
    metrics_url: str | None = None
    slots_total: int | None = None
    ctx_max: int | None = None
    api_key: str | None = None
