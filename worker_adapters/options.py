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
    when the engine does not report them (vLLM has no slots, Triton no context size). `max_connections`
    caps the stream client; None sizes it from `slots_total` (see `stream_connections`). Probes have their
    own small client, so a replica busy on every slot still answers its health probe.
    """

    probe_timeout_s: float = 1.0
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 600.0
    idle_timeout_s: float = 30.0
    first_token_timeout_s: float = 120.0
    max_connections: int | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    model: str | None = None
    metrics_url: str | None = None
    slots_total: int | None = None
    ctx_max: int | None = None
    api_key: str | None = None

    def stream_connections(self) -> int:
        """The stream client's connection limit: explicit, else every slot plus headroom, within bounds.

        A stream beyond the limit would wait for a connection and fail with POOL_UNAVAILABLE while the
        engine still had a free slot, so the limit follows the replica's slots.
        """
        if self.max_connections is not None:
            return self.max_connections
        slots = self.slots_total or UNKNOWN_SLOTS_CONNECTIONS
        return min(max(slots + STREAM_HEADROOM, MIN_STREAM_CONNECTIONS), MAX_STREAM_CONNECTIONS)
