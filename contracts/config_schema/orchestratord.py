"""Configuration of orchestratord: listening address, credentials, limits, queues, tenants, sessions,
streaming, timeouts, node leases, and replicas served without a pool_managerd."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.config_schema.common import (
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
    Sha256Hex,
)

QueuePolicy = Literal["reject", "drop-lru", "shed-low-priority"]
Role = Literal["client", "admin"]
PositiveInt = Annotated[int, Field(ge=1)]


class OrchestratordBind(Bind):
    """Where the HTTP API listens; a non-loopback host needs API keys (ORCH-5005)."""

    port: Port = 8080


class ApiKey(ConfigModel):
    """One API key, stored as the SHA-256 of the bearer secret (ORCH-5001)."""

    sha256: Sha256Hex
    tenant: Identifier
    role: Role = "client"


class OpenEndpoints(ConfigModel):
    """Endpoints served without credentials (ORCH-5004)."""

    metrics: bool = True
    healthz: bool = True
    readyz: bool = True


class Limits(ConfigModel):
    """Request size limits; exceeding one is INVALID_PARAMS or PAYLOAD_TOO_LARGE (ORCH-1003)."""

    max_prompt_bytes: PositiveInt = 65_536
    max_tokens: PositiveInt = 8_192
    max_stop_sequences: Annotated[int, Field(ge=0)] = 4
    max_stop_length: PositiveInt = 64
    max_body_bytes: PositiveInt = 1_048_576
    max_header_bytes: PositiveInt = 8_192


class ClassWeights(ConfigModel):
    """Weighted fair dequeue between priority classes (ORCH-2101)."""

    interactive: PositiveInt = 8
    batch: PositiveInt = 1


class QueueSettings(ConfigModel):
    """One pool's bounded queue and its full-queue policy (ORCH-2001..2005)."""

    capacity: PositiveInt = 256
    policy: QueuePolicy = "reject"
    class_weights: ClassWeights = ClassWeights()


class QueueOverride(ConfigModel):
    """Per-pool changes to the queue defaults; absent fields keep the default."""

    capacity: PositiveInt | None = None
    policy: QueuePolicy | None = None
    class_weights: ClassWeights | None = None


class Queues(ConfigModel):
    """Queue defaults and per-pool overrides keyed by pool id."""

    defaults: QueueSettings = QueueSettings()
    pools: dict[Identifier, QueueOverride] = {}

    def for_pool(self, pool_id: str) -> QueueSettings:
        """The effective queue settings of `pool_id`."""
        override = self.pools.get(pool_id)
        if override is None:
            return self.defaults
        changes = override.model_dump(exclude_none=True)
        return self.defaults.model_copy(update={k: getattr(override, k) for k in changes})


class TenantQuota(ConfigModel):
    """Per-tenant quotas; absent means unlimited (ORCH-2301, ORCH-2302)."""

    max_concurrent: PositiveInt | None = None
    tokens_per_minute: PositiveInt | None = None


class Tenant(ConfigModel):
    """A tenant's quotas and its weight in the fair share between tenants (ORCH-2103)."""

    quota: TenantQuota = TenantQuota()
    weight: PositiveInt = 1


class Sessions(ConfigModel):
    """Session lifetime and budgets (ORCH-4501, ORCH-2303); absent budgets are unlimited."""

    ttl_ms: PositiveMillis = 600_000
    max_turns: PositiveInt = 8
    tokens_budget: PositiveInt | None = None
    time_budget_ms: PositiveMillis | None = None


class Streaming(ConfigModel):
    """SSE behaviour (ORCH-1014..1016)."""

    disconnect_grace_ms: Millis = 5_000
    transcript_retention_ms: Millis = 60_000
    heartbeat_ms: PositiveMillis = 10_000


class Timeouts(ConfigModel):
    """Engine connection timeouts (ORCH-7004, ORCH-7008)."""

    decode_idle_ms: PositiveMillis = 30_000
    connect_ms: PositiveMillis = 2_000


class NodeLease(ConfigModel):
    """How long a node's replicas stay ready without a heartbeat (ORCH-1114)."""

    heartbeat_interval_ms: PositiveMillis = 2_000
    lease_intervals: PositiveInt = 3

    @property
    def lease_ms(self) -> int:
        """Time after the last heartbeat at which the node's replicas become unready."""
        return self.heartbeat_interval_ms * self.lease_intervals


class StaticReplica(ConfigModel):
    """An engine replica orchestratord serves directly, without a pool_managerd."""

    id: Identifier
    pool_id: Identifier
    engine: Engine
    base_url: HttpUrl
    model_ref: ModelRef
    slots: PositiveInt = 1
    ctx_max: PositiveInt = 2_048


class OrchestratordConfig(ConfigModel):
    """The whole orchestratord configuration file."""

    bind: OrchestratordBind = OrchestratordBind()
    api_keys: list[ApiKey] = []
    node_tokens: list[Sha256Hex] = Field(default=[], description="SHA-256 of each accepted node token")
    open_endpoints: OpenEndpoints = OpenEndpoints()
    limits: Limits = Limits()
    queues: Queues = Queues()
    tenants: dict[Identifier, Tenant] = {}
    default_tenant: Tenant = Field(default=Tenant(), description="applies to tenants not listed in `tenants`")
    sessions: Sessions = Sessions()
    streaming: Streaming = Streaming()
    timeouts: Timeouts = Timeouts()
    node_lease: NodeLease = NodeLease()
    shutdown_grace_ms: Millis = 10_000
    replicas: list[StaticReplica] = []
    logging: Logging = Logging()

    @model_validator(mode="after")
    def _unique_keys_and_replicas(self) -> OrchestratordConfig:
        _reject_repeats("api_keys", [key.sha256 for key in self.api_keys])
        _reject_repeats("replicas", [replica.id for replica in self.replicas])
        return self

    def tenant(self, name: str) -> Tenant:
        """The quota and weight of tenant `name`."""
        return self.tenants.get(name, self.default_tenant)


def _reject_repeats(field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{field}.{index}: {value!r} appears more than once")
        seen.add(value)
