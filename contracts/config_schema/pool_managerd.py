"""Configuration of pool_managerd: its identity, its orchestratord, and the engine pools it supervises."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from contracts.config_schema.common import (
    DEFAULT_WORKLOADS,
    Bind,
    ConfigModel,
    Engine,
    HttpUrl,
    Identifier,
    Logging,
    Millis,
    ModelRef,
    Port,
    PositiveMillis,
    Workloads,
)
from orchestrator_core.vocabulary import Determinism

PositiveInt = Annotated[int, Field(ge=1)]
GpuIndex = Annotated[int, Field(ge=0)]
MIN_NODE_TOKEN_LENGTH = 16
# The placeholders an engine command template may use; pool_managerd's default templates use the same set.
COMMAND_PLACEHOLDERS = frozenset(
    {
        "binary",
        "python",
        "model",
        "model_id",
        "host",
        "port",
        "slots",
        "ctx",
        "ctx_total",
        "threads",
        "pool_id",
        "replica_id",
        "determinism_flags",
    }
)


class PoolManagerdBind(Bind):
    """Where pool_managerd's own API listens (ORCH-6014)."""

    port: Port = 9200


class PoolManagerdOpenEndpoints(ConfigModel):
    """pool_managerd endpoints served without the node token (ORCH-6014)."""

    metrics: bool = True
    health: bool = True


class RegistrationBackoff(ConfigModel):
    """Full-jitter retry of registration while orchestratord is unreachable (ORCH-6013)."""

    initial_ms: PositiveMillis = 500
    max_ms: PositiveMillis = 10_000


class RestartPolicy(ConfigModel):
    """Capped exponential restart backoff and the crash circuit breaker (ORCH-6007, ORCH-6008)."""

    backoff_initial_ms: PositiveMillis = 500
    backoff_max_ms: PositiveMillis = 30_000
    backoff_reset_after_ms: PositiveMillis = Field(
        default=60_000, description="ready time after which the backoff starts again from the initial value"
    )
    breaker_crashes: PositiveInt = 5
    breaker_window_ms: PositiveMillis = 60_000

    @model_validator(mode="after")
    def _initial_within_cap(self) -> RestartPolicy:
        if self.backoff_initial_ms > self.backoff_max_ms:
            raise ValueError("backoff_initial_ms must not exceed backoff_max_ms")
        return self


class Pool(ConfigModel):
    """One pool: replicas of one engine serving one model on the given devices."""

    id: Identifier
    engine: Engine
    model_ref: ModelRef
    model_id: str | None = Field(
        default=None, min_length=1, description="name clients may use for the model; default: from the engine"
    )
    replicas: PositiveInt = 1
    workloads: Workloads = DEFAULT_WORKLOADS
    devices: list[GpuIndex] | Literal["cpu"] = Field(
        description='GPU indices, or "cpu" as an explicit carve-out; a GPU pool never falls back to CPU'
    )
    determinism: Determinism = Field(
        default="strict",
        description="strict or best_effort; when omitted: strict for a llamacpp or vllm pool with one slot, "
        "else best_effort",
    )
    slots: PositiveInt = Field(default=1, description="concurrent requests per replica")
    ctx: PositiveInt = 2_048
    threads: PositiveInt = 1
    binary: str | None = Field(default=None, description="engine executable; default: found per engine")
    engine_flags: list[str] = []
    port_range: tuple[Port, Port] = Field(
        description="replica ports, lowest free first; at least twice the replica count"
    )
    advertise_host: str | None = Field(
        default=None,
        description="address this pool's engines bind and are registered with; default: engine_host",
    )
    command_template: list[str] | None = Field(
        default=None,
        description="engine argv with placeholders "
        + " ".join(f"{{{name}}}" for name in sorted(COMMAND_PLACEHOLDERS))
        + "; default: the engine's built-in template",
    )
    vram_bytes_per_replica: PositiveInt | None = None
    restart: RestartPolicy = RestartPolicy()
    start_timeout_ms: PositiveMillis = Field(
        default=600_000, description="not ready by then counts as a crash"
    )
    drain_deadline_ms: Annotated[int, Field(ge=0, le=600_000)] = 30_000
    reload_timeout_ms: PositiveMillis = 600_000

    @model_validator(mode="before")
    @classmethod
    def _default_determinism(cls, data: object) -> object:
        # ORCH-6015: an omitted mode is strict only where the engine can run it with the pool's slots, so a
        # TGI, Triton or multi-slot pool loads as best_effort, not refused for a mode nobody asked for.
        if isinstance(data, dict) and "determinism" not in data:
            can_be_strict = data.get("engine") in ("llamacpp", "vllm") and data.get("slots", 1) == 1
            return {**data, "determinism": "strict" if can_be_strict else "best_effort"}
        return data

    @field_validator("devices")
    @classmethod
    def _distinct_devices(cls, devices: list[int] | Literal["cpu"]) -> list[int] | Literal["cpu"]:
        if devices != "cpu":
            if not devices:
                raise ValueError('list at least one GPU index, or use "cpu"')
            if len(set(devices)) != len(devices):
                raise ValueError("a GPU index appears more than once")
        return devices

    @field_validator("slots")
    @classmethod
    def _strict_llamacpp_single_slot(cls, slots: int, info: ValidationInfo) -> int:
        # Fields validate in declaration order, so engine and determinism are known here (ORCH-6015).
        if info.data.get("engine") == "llamacpp" and info.data.get("determinism") == "strict" and slots != 1:
            raise ValueError(f"slots must be 1 for a llamacpp pool with strict determinism (got {slots})")
        return slots

    @field_validator("port_range")
    @classmethod
    def _ordered_port_range(cls, port_range: tuple[int, int]) -> tuple[int, int]:
        low, high = port_range
        if low > high:
            raise ValueError(f"the first port ({low}) must not exceed the last ({high})")
        return port_range

    @field_validator("command_template")
    @classmethod
    def _known_placeholders(cls, template: list[str] | None) -> list[str] | None:
        if template is None:
            return None
        if not template:
            raise ValueError("an empty command template starts nothing")
        parsed = (string.Formatter().parse(word) for word in template)
        used = {name for fields in parsed for _, name, _, _ in fields if name is not None}
        unknown = sorted(used - COMMAND_PLACEHOLDERS)
        if unknown:
            raise ValueError(f"unknown placeholder(s) {unknown}; known: {sorted(COMMAND_PLACEHOLDERS)}")
        missing = sorted({"model", "port"} - used)
        if missing:
            raise ValueError("the template must use " + " and ".join(f"{{{name}}}" for name in missing))
        return template

    @model_validator(mode="after")
    def _enough_ports(self) -> Pool:
        # A reload starts the new replica set beside the old one, so the range needs two sets of ports.
        low, high = self.port_range
        if high - low + 1 < 2 * self.replicas:
            raise ValueError(
                f"port_range {low}-{high} has {high - low + 1} port(s); "
                f"{self.replicas} replica(s) need {2 * self.replicas} to reload beside the running set"
            )
        return self


class PoolManagerdConfig(ConfigModel):
    """The whole pool_managerd configuration file."""

    host_id: Identifier
    bind: PoolManagerdBind = PoolManagerdBind()
    orchestratord_url: HttpUrl = "http://127.0.0.1:8080"
    node_token: SecretStr = Field(
        description="shared secret of at least 16 characters: sent to orchestratord as a bearer token and "
        "required on this API",
    )
    heartbeat_interval_ms: PositiveMillis = 2_000
    engine_host: str = Field(
        default="127.0.0.1",
        description="address engines bind and are registered with, unless a pool sets its own",
    )
    registration_backoff: RegistrationBackoff = RegistrationBackoff()
    open_endpoints: PoolManagerdOpenEndpoints = PoolManagerdOpenEndpoints()
    log_dir: Path = Field(default=Path("logs/pool_managerd"), description="one log file per replica")
    model_cache_dir: Path = Field(
        default=Path(".cache/models"), description="where packaged models are assembled"
    )
    stop_grace_ms: Millis = Field(default=10_000, description="SIGTERM to SIGKILL delay for replicas")
    pools: list[Pool] = []
    logging: Logging = Logging()

    @field_validator("node_token")
    @classmethod
    def _strong_token(cls, token: SecretStr) -> SecretStr:
        if len(token.get_secret_value()) < MIN_NODE_TOKEN_LENGTH:
            raise ValueError(f"node_token must have at least {MIN_NODE_TOKEN_LENGTH} characters")
        return token

    @model_validator(mode="after")
    def _unique_pool_ids(self) -> PoolManagerdConfig:
        seen: dict[str, int] = {}
        for index, pool in enumerate(self.pools):
            if pool.id in seen:
                raise ValueError(f"pools.{index}.id: {pool.id!r} is already used by pools.{seen[pool.id]}")
            seen[pool.id] = index
        return self
