# Generated from contracts/openapi/control.yaml by `python -m tools.regen`; edit the contract, never this file.

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    MISSING,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from typing_extensions import TypeAliasType

ErrorCode = TypeAliasType(
    "ErrorCode",
    Annotated[
        Literal["INVALID_PARAMS", "DEADLINE_UNMET", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "PAYLOAD_TOO_LARGE", "ADMISSION_REJECT", "QUEUE_FULL_DROP_LRU", "QUOTA_EXCEEDED", "POOL_UNREADY", "POOL_UNAVAILABLE", "REPLICA_EXHAUSTED", "STATE_UNAVAILABLE", "DECODE_TIMEOUT", "WORKER_RESET", "INTERNAL", "METHOD_NOT_ALLOWED", "MODEL_NOT_FOUND"],
        Field(
            description="The contract's error codes; `orchestrator_core.errors` has one class per code (ORCH-1203)."
        ),
    ],
)


PolicyLabel = TypeAliasType(
    "PolicyLabel",
    Annotated[
        Literal["reject", "drop-lru", "shed-low-priority", "quota"],
        Field(
            description="The backpressure policy that produced a 429 (or evicted a queued task)."
        ),
    ],
)


Engine = TypeAliasType("Engine", Literal["llamacpp", "vllm", "tgi", "triton"])


Workload = TypeAliasType("Workload", Literal["completion", "chat", "embedding"])


Identifier = TypeAliasType(
    "Identifier",
    Annotated[
        StrictStr,
        Field(
            description="Pool, replica or node id.",
            pattern="^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        ),
    ],
)


ModelDigest = TypeAliasType(
    "ModelDigest",
    Annotated[
        StrictStr,
        Field(
            description="`sha256:` and the lowercase hex SHA-256 of the model file (ORCH-6010).",
            pattern="^sha256:[0-9a-f]{64}$",
        ),
    ],
)


HttpUrl = TypeAliasType(
    "HttpUrl",
    Annotated[
        StrictStr,
        Field(
            description="An http:// or https:// URL.",
            max_length=2048,
            pattern="^https?://[^\\s/?#]+(/[^\\s]*)?$",
        ),
    ],
)


class ErrorEnvelope(BaseModel):
    code: ErrorCode
    message: StrictStr
    engine: Engine | MISSING = MISSING
    pool_id: Identifier | MISSING = MISSING
    retriable: StrictBool
    retry_after_ms: Annotated[StrictInt | MISSING, Field(ge=0)] = MISSING
    policy_label: PolicyLabel | MISSING = MISSING
    correlation_id: Annotated[StrictStr, Field(max_length=128, min_length=1)]


class PoolSummary(BaseModel):
    pool_id: Identifier
    node_id: Identifier
    engine: Engine
    model_ref: StrictStr
    live: Annotated[StrictBool, Field(description="The owning node's lease is valid.")]
    ready: Annotated[StrictBool, Field(description="At least one replica is ready.")]
    draining: StrictBool
    last_error: StrictStr | None
    replicas_total: Annotated[StrictInt, Field(ge=0)]
    replicas_ready: Annotated[StrictInt, Field(ge=0)]
    slots_total: Annotated[StrictInt, Field(ge=0)]
    queue_capacity: Annotated[
        StrictInt | MISSING,
        Field(description="The pool queue's capacity in tasks (ORCH-2010).", ge=1),
    ] = MISSING
    queue_policy: Annotated[
        Literal["reject", "drop-lru", "shed-low-priority"] | MISSING,
        Field(
            description="What an arrival at the pool's full queue meets (ORCH-2010)."
        ),
    ] = MISSING


class PoolList(BaseModel):
    pools: list[PoolSummary]


ReplicaState = TypeAliasType(
    "ReplicaState",
    Annotated[
        Literal["starting", "ready", "unready", "restarting", "stopping", "stopped", "failed"],
        Field(
            description="`starting` until ready (health, props and a one-token self-test), `ready`, `unready` (health probes\nfailing), `restarting` (waiting for its backoff after a crash), `stopping`, `stopped`, or `failed`\n(circuit breaker open, or the start timed out) (ORCH-6018).\n"
        ),
    ],
)


class ReplicaHealth(BaseModel):
    replica_id: Identifier
    state: ReplicaState
    ready: StrictBool
    endpoint: HttpUrl
    engine: Engine
    engine_version: Annotated[
        StrictStr | None, Field(description="Null until read from the engine.")
    ]
    model_digest: ModelDigest | None
    slots_total: Annotated[StrictInt, Field(ge=0)]
    pid: Annotated[
        StrictInt | None,
        Field(description="Process id of the engine; null while not running.", ge=1),
    ]
    port: Annotated[StrictInt, Field(ge=1, le=65535)]
    restarts: Annotated[StrictInt, Field(ge=0)]
    last_exit_code: Annotated[
        StrictInt | None,
        Field(
            description="Exit status of the last engine process (negative for a signal); null before any exit."
        ),
    ]
    last_error: StrictStr | None


class PoolHealth(BaseModel):
    pool_id: Identifier
    live: Annotated[StrictBool, Field(description="pool_managerd supervises the pool.")]
    ready: Annotated[
        StrictBool,
        Field(
            description="At least one replica is ready and the circuit breaker is closed."
        ),
    ]
    draining: StrictBool
    last_error: StrictStr | None
    replicas: list[ReplicaHealth]


class DrainRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    deadline_ms: Annotated[
        StrictInt | MISSING,
        Field(
            description="How long in-flight work may continue before the replicas stop; absent (or no body at all): the\nconfigured drain deadline (default 30000).\n",
            ge=1,
            le=600000,
        ),
    ] = MISSING


class DrainAccepted(BaseModel):
    pool_id: Identifier
    draining: Literal[True]
    deadline_ms: Annotated[
        StrictInt,
        Field(
            description="The effective deadline (the sooner one when a drain was already running).",
            ge=1,
        ),
    ]


class ReloadRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    new_model_ref: Annotated[
        StrictStr,
        Field(
            description="A local model file path or `pkg:<distribution>[/<relative file>]` (ORCH-6002).",
            max_length=4096,
            min_length=1,
        ),
    ]


class ReloadResult(BaseModel):
    pool_id: Identifier
    model_ref: StrictStr
    model_digest: ModelDigest
    engine_version: StrictStr
    replicas_ready: Annotated[StrictInt, Field(ge=0)]


DeviceId = TypeAliasType(
    "DeviceId",
    Annotated[
        StrictStr,
        Field(
            description="`cpu`, or the NVIDIA GPU index.", pattern="^(cpu|[0-9]{1,3})$"
        ),
    ],
)


class Device(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    device_id: DeviceId
    kind: Literal["gpu", "cpu"]
    name: Annotated[StrictStr, Field(max_length=256)]
    uuid: Annotated[StrictStr | None, Field(max_length=128)]
    vram_total_bytes: Annotated[StrictInt | None, Field(ge=0)]
    vram_used_bytes: Annotated[StrictInt | None, Field(ge=0)]
    utilization_pct: Annotated[StrictFloat | None, Field(ge=0.0, le=100.0)]


class ReplicaRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    replica_id: Identifier
    endpoint: HttpUrl
    determinism: Annotated[
        Literal["strict", "best_effort"],
        Field(
            description="The mode the replica's engine really runs in: `strict` only when its launch makes streams\nreproducible (llama.cpp: one slot, `--parallel 1 --no-cont-batching`; vLLM: one sequence, no\nprefix caching). Strict tasks are placed on strict replicas only (ORCH-3505, ORCH-3009).\n"
        ),
    ]
    engine_version: Annotated[StrictStr, Field(max_length=128, min_length=1)]
    model_digest: ModelDigest
    sampler_profile_version: Annotated[
        StrictStr, Field(pattern="^v[1-9][0-9]{0,3}$")
    ] = "v1"
    slots_total: Annotated[StrictInt, Field(ge=1, le=4096)]
    ctx_max: Annotated[StrictInt, Field(ge=1, le=1048576)]
    max_tokens_out: Annotated[
        StrictInt | MISSING, Field(description="Defaults to ctx_max.", ge=1, le=1048576)
    ] = MISSING
    workloads: Annotated[
        list[Workload],
        Field(
            description="Workloads the replica serves; a repeated value counts once.",
            max_length=3,
            min_length=1,
        ),
    ] = ["completion", "chat"]
    ready: StrictBool
    devices: Annotated[list[DeviceId], Field(min_length=1)]
    vram_bytes: Annotated[
        StrictInt | None | MISSING,
        Field(description="VRAM the replica uses; null on CPU.", ge=0),
    ] = MISSING


class PoolRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    pool_id: Identifier
    engine: Engine
    model_ref: Annotated[StrictStr, Field(max_length=4096, min_length=1)]
    ready: StrictBool
    draining: StrictBool
    last_error: Annotated[StrictStr | None, Field(max_length=4096)]
    replicas: Annotated[list[ReplicaRegistration], Field(max_length=256)]


class NodeRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    node_id: Identifier
    api_url: Annotated[
        HttpUrl,
        Field(
            description="Base URL of the node's pool_managerd API (pool.yaml), used to forward pool operations."
        ),
    ]
    heartbeat_interval_ms: Annotated[
        StrictInt | MISSING,
        Field(
            description="The node's heartbeat interval; the lease is 3 intervals (ORCH-1114). Absent: orchestratord's\nconfigured interval (default 2000).\n",
            ge=100,
            le=600000,
        ),
    ] = MISSING
    cpu_only: Annotated[
        StrictBool, Field(description="No GPU was discovered on the host.")
    ]
    devices: Annotated[list[Device], Field(max_length=256)]
    pools: Annotated[list[PoolRegistration], Field(max_length=256)]


class ReplicaHeartbeat(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    replica_id: Identifier
    ready: StrictBool
    slots_free: Annotated[
        StrictInt | None | MISSING,
        Field(
            description="Free slots as the engine reports them; null when it cannot tell. Informational, since orchestratord leases slots itself.",
            ge=0,
        ),
    ] = MISSING
    tokens_per_s: Annotated[
        StrictFloat | None | MISSING,
        Field(description="Recent decode rate, when known.", ge=0.0),
    ] = MISSING
    first_token_ms: Annotated[
        StrictFloat | None | MISSING,
        Field(description="Recent time to first token, when known.", ge=0.0),
    ] = MISSING


class PoolHeartbeat(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    pool_id: Identifier
    ready: StrictBool
    draining: StrictBool
    last_error: Annotated[StrictStr | None, Field(max_length=4096)]
    replicas: Annotated[list[ReplicaHeartbeat], Field(max_length=256)]


class Heartbeat(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    pools: Annotated[list[PoolHeartbeat], Field(max_length=256)]


class NodeLease(BaseModel):
    node_id: Identifier
    lease_ms: Annotated[
        StrictInt,
        Field(
            description="The registration expires this long after the last registration or heartbeat.",
            ge=1,
        ),
    ]
    heartbeat_interval_ms: Annotated[StrictInt, Field(ge=1)]


class NodeInfo(BaseModel):
    node_id: Identifier
    api_url: HttpUrl
    live: Annotated[StrictBool, Field(description="The lease has not expired.")]
    last_heartbeat_ms_ago: Annotated[
        StrictInt, Field(description="Since the last registration or heartbeat.", ge=0)
    ]
    lease_expires_in_ms: Annotated[
        StrictInt, Field(description="0 once expired.", ge=0)
    ]
    pools: list[Identifier]
    replicas_total: Annotated[StrictInt, Field(ge=0)]
    replicas_ready: Annotated[StrictInt, Field(ge=0)]


class NodeList(BaseModel):
    nodes: list[NodeInfo]
