"""Point-in-time views of pools and replicas, as the API, the metrics and registration report them."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator_core.vocabulary import Determinism

MODEL_LOAD_BUCKETS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass
class LoadTimes:
    """Seconds from spawning a replica to it becoming ready, bucketed as poolmgr_model_load_seconds."""

    buckets: tuple[float, ...] = MODEL_LOAD_BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * len(MODEL_LOAD_BUCKETS_S))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1
        self.total += seconds
        self.count += 1


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
    last_exit_code: int | None
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
    determinism: Determinism
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
    workloads: tuple[str, ...] = ("completion", "chat")
