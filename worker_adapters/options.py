"""Tuning knobs of an HTTP adapter: timeouts, retry policy and the facts an engine does not report."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker_adapters.retry import RetryPolicy

MIN_STREAM_CONNECTIONS = 16
MAX_STREAM_CONNECTIONS = 4096
STREAM_HEADROOM = 8
UNKNOWN_SLOTS_CONNECTIONS = 256
PROBE_CONNECTIONS = 4


@dataclass(frozen=True, slots=True)
class AdapterOptions:
    """Per-replica adapter settings.

    `probe_timeout_s` bounds health, props and metrics calls; `connect_timeout_s` bounds opening a
    stream; `idle_timeout_s` is the longest gap between two tokens and `first_token_timeout_s` the
    longest wait for the first one (both raise DecodeTimeout). `slots_total` and `ctx_max` are used only
    when the engine does not report them (vLLM has no slots, Triton no context size). `max_kept_connections`
    caps the idle stream connections kept for reuse; None sizes it from `slots_total` (see
    `kept_connections`); how many streams run at once is bounded by the replica's slot leases. Probes have
    their own small client, so a replica busy on every slot still answers its health probe.
    """

    probe_timeout_s: float = 1.0
    connect_timeout_s: float = 1.0
    idle_timeout_s: float = 30.0
    first_token_timeout_s: float = 120.0
    max_kept_connections: int | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    model: str | None = None
    metrics_url: str | None = None
    slots_total: int | None = None
    ctx_max: int | None = None
    api_key: str | None = None

    def kept_connections(self) -> int:
        """How many idle stream connections are kept: explicit, else every slot plus headroom, within
        bounds, so a replica busy on every slot finds a connection for each next stream."""
        if self.max_kept_connections is not None:
            return self.max_kept_connections
        slots = self.slots_total or UNKNOWN_SLOTS_CONNECTIONS
        return min(max(slots + STREAM_HEADROOM, MIN_STREAM_CONNECTIONS), MAX_STREAM_CONNECTIONS)
