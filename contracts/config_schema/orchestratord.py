"""Configuration of orchestratord: listening address, credentials, limits, queues, tenants, sessions,
streaming, timeouts, node leases, and replicas served without a pool_managerd."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from contracts.config_schema.common import (
    DEFAULT_WORKLOADS,
    Bind,
    ConfigModel,
    Engine,
    HttpUrl,
    Identifier,
    Logging,
    Millis,
    ModelDigest,
    ModelRef,
    Port,
    PositiveMillis,
    Sha256Hex,
    Workloads,
)
from orchestrator_core.vocabulary import Determinism

QueuePolicy = Literal["reject", "drop-lru", "shed-low-priority"]
Role = Literal["client", "admin"]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
UnitInterval = Annotated[float, Field(gt=0.0, le=1.0)]


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

    max_prompt_bytes: PositiveInt = Field(
        default=65_536, description="UTF-8 bytes; chat sums message contents"
    )
    max_tokens: PositiveInt = 8_192
    max_stop_sequences: int = Field(default=4, ge=0, le=4, description="at most 4, the contract's bound")
    max_stop_length: PositiveInt = Field(default=64, description="characters per stop string")
    max_messages: PositiveInt = 256
    max_body_bytes: PositiveInt = 1_048_576
    max_header_value_bytes: PositiveInt = 8_192
    max_deadline_ms: PositiveMillis = 86_400_000


class ClassWeights(ConfigModel):
    """Weighted fair dequeue between priority classes (ORCH-2101)."""

    interactive: PositiveInt = 8
    batch: PositiveInt = 1


class QueueSettings(ConfigModel):
    """One pool's bounded queue and its full-queue policy (ORCH-2001..2005)."""

    capacity: PositiveInt = 256
    policy: QueuePolicy = "reject"
    class_weights: ClassWeights = ClassWeights()
    unready_wait_ms: Millis = Field(
        default=30_000, description="how long a task stays queued for an unready pool (ORCH-2013)"
    )


class QueueOverride(ConfigModel):
    """Per-pool changes to the queue defaults; absent fields keep the default."""

    capacity: PositiveInt | None = None
    policy: QueuePolicy | None = None
    class_weights: ClassWeights | None = None
    unready_wait_ms: Millis | None = None


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

    max_concurrent: PositiveInt | None = Field(default=None, description="queued plus running tasks")
    tokens_per_minute: PositiveInt | None = Field(default=None, description="token bucket size and refill")


class Tenant(ConfigModel):
    """A tenant's quotas and its share in the deficit round robin between tenants (ORCH-2103, ORCH-2104)."""

    quota: TenantQuota = TenantQuota()
    weight: PositiveInt = 1
    quantum: PositiveInt = Field(
        default=4_096,
        description="DRR base quantum in estimated tokens; the pool uses at least its largest cost",
    )


class Sessions(ConfigModel):
    """Session lifetime and budgets (ORCH-4501, ORCH-2303); absent budgets are unlimited."""

    ttl_ms: PositiveMillis = Field(default=600_000, description="sliding: renewed by each admitted turn")
    max_turns: PositiveInt = 8
    tokens_budget: PositiveInt | None = Field(default=None, description="tokens_in + tokens_out per session")
    time_budget_ms: PositiveMillis | None = Field(default=None, description="decode time per session")


class Predictions(ConfigModel):
    """Priors and smoothing of the per-replica predictions (ORCH-2203, ORCH-2205)."""

    first_token_ms_prior: PositiveMillis = 500
    tokens_per_second_prior: Annotated[float, Field(gt=0.0)] = 20.0
    ewma_alpha: UnitInterval = 0.2


class Streaming(ConfigModel):
    """SSE behaviour (ORCH-1014..1016)."""

    heartbeat_ms: PositiveMillis = 10_000
    verbose_metrics_interval_ms: PositiveMillis = 1_000
    disconnect_grace_ms: Millis = Field(default=5_000, description="0 disables the cancel on disconnect")
    transcript_retention_ms: Millis = 60_000
    transcript_retention_max_bytes: PositiveInt = Field(
        default=64 * 1024 * 1024,
        description="bytes all finished transcripts may hold; beyond it the oldest are evicted early",
    )


class Timeouts(ConfigModel):
    """Engine and pool_managerd timeouts (ORCH-4005, ORCH-1105, ORCH-7008)."""

    probe_connect_ms: PositiveMillis = 1_000
    connect_ms: PositiveMillis = 2_000
    first_token_ms: PositiveMillis = 120_000
    decode_idle_ms: PositiveMillis = 30_000
    pool_forward_ms: PositiveMillis = 10_000
    pool_reload_ms: PositiveMillis = 600_000


class Retries(ConfigModel):
    """Adapter retries before the first token, with full jitter (ORCH-7005)."""

    max_retries: NonNegativeInt = 2
    base_ms: PositiveMillis = 100
    cap_ms: PositiveMillis = 2_000


class OpenAIFacade(ConfigModel):
    """Defaults of the OpenAI-compatible endpoints."""

    default_max_tokens: PositiveInt | None = Field(
        default=None,
        description=(
            "when a request omits max_tokens; unset means the rest of the model's context, capped by "
            "limits.max_tokens (ORCH-1066)"
        ),
    )


ModelName = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^\S+$")]


class NodeLease(ConfigModel):
    """How long a node's replicas stay ready without a heartbeat (ORCH-1114)."""

    heartbeat_interval_ms: PositiveMillis = 2_000
    lease_intervals: PositiveInt = 3

    @property
    def lease_ms(self) -> int:
        """Time after the last heartbeat at which the node's replicas become unready."""
        return self.heartbeat_interval_ms * self.lease_intervals


RedisUrl = Annotated[
    str,
    StringConstraints(pattern=r"^(redis|rediss|unix)://[^\s]+$"),
    Field(description="redis://host:port/db, rediss:// for TLS, or unix:///path/to.sock"),
]


class SharedState(ConfigModel):
    """Where queues, quotas, slot leases, task records and transcripts live (ORCH-4106): in this process
    (`memory`, the default) or in Redis/Valkey, shared by every orchestratord instance that names it."""

    backend: Literal["memory", "redis"] = "memory"
    url: RedisUrl = "redis://127.0.0.1:6379/0"
    key_prefix: Identifier = Field(default="orch", description="every key is `<key_prefix>:...`")
    instance_id: Identifier | None = Field(
        default=None, description="this instance's name in Redis; default `<hostname>-<pid>`"
    )
    lease_ttl_ms: PositiveMillis = Field(
        default=5_000,
        description="a slot lease lapses this long after its last renewal; renewed three times per TTL",
    )
    transcript_flush_ms: PositiveMillis = Field(
        default=5, description="tokens are written to the shared transcript in batches at most this often"
    )
    op_timeout_ms: PositiveMillis = Field(
        default=2_000, description="a Redis call slower than this fails (the request is answered 503)"
    )
    max_connections: PositiveInt = Field(
        default=128,
        description="connections to Redis for commands; a call waits up to op_timeout_ms for a free one",
    )
    max_follow_connections: PositiveInt = Field(
        default=512,
        description="connections for the blocking reads of streams run elsewhere (one per followed task), "
        "kept apart so that they never hold up commands",
    )


class StaticReplica(ConfigModel):
    """An engine replica orchestratord serves directly, without a pool_managerd."""

    id: Identifier
    pool_id: Identifier
    engine: Engine
    base_url: HttpUrl
    model_ref: ModelRef
    model_id: ModelName | None = Field(
        default=None, description="another name clients may use for the model (listed by GET /v1/models)"
    )
    slots: PositiveInt = 1
    ctx_max: PositiveInt = 2_048
    workloads: Workloads = DEFAULT_WORKLOADS
    determinism: Determinism = Field(
        default="best_effort",
        description=(
            "the mode the engine was launched in; orchestratord cannot see the launch, so the operator "
            "declares `strict` only for an engine that decodes one sequence at a time with nothing shared "
            "between requests (llama.cpp `--parallel 1 --no-cont-batching`, ORCH-3505)"
        ),
    )
    model_digest: ModelDigest | None = Field(
        default=None,
        description=(
            "digest of the model file the engine serves; without it the engine-reported digest is used, "
            "else `sha256:` and the SHA-256 of the model_ref text as a stand-in"
        ),
    )


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
    predictions: Predictions = Predictions()
    streaming: Streaming = Streaming()
    timeouts: Timeouts = Timeouts()
    retries: Retries = Retries()
    task_retention_ms: Millis = Field(default=60_000, description="task records kept after the end")
    openai: OpenAIFacade = OpenAIFacade()
    node_lease: NodeLease = NodeLease()
    shutdown_grace_ms: Millis = Field(default=10_000, description="running tasks may finish this long")
    replicas: list[StaticReplica] = []
    model_aliases: dict[Identifier, list[ModelName]] = Field(
        default={},
        description=(
            "per pool id, more names clients may use for the model the pool serves; every name is listed by "
            "GET /v1/models and asks for that pool's model on every route (ORCH-1062)"
        ),
    )
    state: SharedState = SharedState()
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
