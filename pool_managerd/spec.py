"""The runtime plan of a node and its pools: validated config values in the shapes the supervisor uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RestartPolicy:
    """Restart backoff and crash breaker settings of one pool."""

    backoff_initial_ms: int = 500
    backoff_max_ms: int = 30_000
    backoff_reset_after_ms: int = 60_000
    breaker_crashes: int = 5
    breaker_window_ms: int = 60_000


@dataclass(frozen=True)
class PoolSpec:
    """One pool: which engine serves which model on which devices, how many replicas, how restarted."""

    pool_id: str
    engine: str
    model_ref: str
    model_id: str | None = None
    workloads: tuple[str, ...] = ("completion", "chat")
    replicas: int = 1
    devices: tuple[int, ...] | str = "cpu"
    slots: int = 1
    ctx: int = 2048
    engine_flags: tuple[str, ...] = ()
    determinism: str = "strict"
    port_range: tuple[int, int] = (9100, 9199)
    command_template: tuple[str, ...] | None = None
    binary: str | None = None
    vram_bytes_per_replica: int | None = None
    advertise_host: str = "127.0.0.1"
    start_timeout_s: float = 600.0
    reload_timeout_s: float = 600.0
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    drain_deadline_ms: int = 30_000
    threads: int = 1


@dataclass(frozen=True)
class NodeSpec:
    """One pool_managerd: its identity, its orchestratord, and its pools."""

    host_id: str
    pools: tuple[PoolSpec, ...]
    log_dir: Path = Path("logs/pool_managerd")
    orchestratord_url: str | None = None
    node_token: str | None = None
    heartbeat_interval_ms: int = 2_000
    registration_backoff_ms: tuple[int, int] = (500, 10_000)
    model_cache_dir: Path = Path(".cache/models")
    config_dir: Path | None = None
    stop_grace_s: float = 10.0
