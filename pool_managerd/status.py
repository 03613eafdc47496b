"""Point-in-time views of pools and replicas, as the API, the metrics and registration report them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica: where it serves, whether it is ready, and its identity and history."""

    replica_id: str
    replica_set: str
    endpoint: str
    state: str
    ready: bool
    pid: int | None
    port: int
    device: str
    slots: int
    ctx_max: int
    engine_version: str | None
    restarts: int
    crashes: int
    last_error: str | None
    log_path: str


@dataclass(frozen=True)
class PoolStatus:
    """One pool: readiness, drain and breaker state, the serving replica set and its identity."""

    pool_id: str
    engine: str
    model_ref: str
    model_digest: str | None
    engine_version: str | None
    replica_set: str | None
    live: bool
    ready: bool
    draining: bool
    drained: bool
    breaker_open: bool
    last_error: str | None
    slots_total: int
    replicas: tuple[ReplicaStatus, ...]
