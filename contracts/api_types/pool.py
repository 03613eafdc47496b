# Generated from contracts/openapi/pool.yaml by `python -m tools.regen`; edit the contract, never this file.

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


class NodeHealth(BaseModel):
    node_id: Identifier
    live: StrictBool
    ready: Annotated[StrictBool, Field(description="At least one pool is ready.")]
    registered: Annotated[
        StrictBool | None,
        Field(
            description="The last registration or heartbeat with orchestratord succeeded; null when registration is off."
        ),
    ]
    registration_error: Annotated[
        StrictStr | None | MISSING,
        Field(description="Why the last registration or heartbeat failed, if it did."),
    ] = MISSING
    cpu_only: StrictBool
    devices: list[Device]


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


class PoolStatus(BaseModel):
    pool_id: Identifier
    engine: Engine
    model_ref: StrictStr
    model_digest: Annotated[
        ModelDigest | None,
        Field(
            description="Digest of the serving replica set's model; null before the first set is up."
        ),
    ]
    engine_version: StrictStr | None
    replica_set: Annotated[
        StrictStr | None,
        Field(
            description="Id of the serving replica set; one set never mixes engine_version or model_digest."
        ),
    ]
    slots_total: Annotated[StrictInt, Field(ge=0)]
    live: StrictBool
    ready: StrictBool
    draining: StrictBool
    breaker_open: Annotated[
        StrictBool,
        Field(
            description="K crashes within T opened the breaker; the pool stays unready until a reload (ORCH-6008)."
        ),
    ]
    last_error: StrictStr | None
    replicas: list[ReplicaHealth]


class PoolStatusList(BaseModel):
    pools: list[PoolStatus]


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
