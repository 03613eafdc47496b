"""Value types every engine adapter speaks: requests, stream events, health, props and metrics (ORCH-7001).

All types are frozen dataclasses so they can be shared between tasks and compared in tests. A
`GenerateRequest` validates itself on construction and raises `InvalidParams` naming the bad field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

from orchestrator_core.errors import InvalidParams
from orchestrator_core.vocabulary import Determinism, Workload

HealthState: TypeAlias = Literal["starting", "ready", "dead"]
StopReason: TypeAlias = Literal["eos", "limit", "stop", "cancel", "tool_calls"]
EngineName: TypeAlias = Literal["llamacpp", "vllm", "tgi", "triton", "mock"]

SEED_MAX = 2**32 - 1


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call of a function tool: `arguments` is JSON text, as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat turn; `role` is system, user, assistant or tool. An assistant turn may hold the tool calls
    it made; a tool turn answers the call named by `tool_call_id`."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """One generation, with every sampling field explicit so a replica set can replay it (ORCH-7006).

    `top_k = 0` and `top_p = 1.0` mean "disabled"; `temperature = 0` means greedy. Exactly one of
    `prompt` (completion) or `messages` (chat) is set, matching `workload`.
    """

    max_tokens: int
    seed: int
    workload: Workload = "completion"
    prompt: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    determinism: Determinism = "strict"
    # OpenAI's tool and output-format fields as JSON text, passed to engines that support them (ORCH-1069,
    # ORCH-1090); None when the request has none.
    tools: str | None = None
    tool_choice: str | None = None
    parallel_tool_calls: bool | None = None
    response_format: str | None = None
    # ORCH-1092: 0 and None ask for nothing; `logit_bias` is OpenAI's JSON object text.
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: str | None = None
    # The texts of an `embedding` workload (ORCH-1094), which has neither prompt nor messages.
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_input(self)
        _check_sampling(self)


def _check_input(request: GenerateRequest) -> None:
    if request.workload == "completion":
        if request.prompt is None or request.messages is not None:
            raise InvalidParams("prompt: a completion workload needs a prompt and no messages")
    elif request.workload == "chat":
        if not request.messages or request.prompt is not None:
            raise InvalidParams("messages: a chat workload needs at least one message and no prompt")
    elif request.workload == "embedding":
        if not request.inputs or request.prompt is not None or request.messages is not None:
            raise InvalidParams("input: an embedding workload needs inputs and no prompt or messages")
    else:
        raise InvalidParams(f"workload: unknown workload {request.workload!r}")
    if request.determinism not in ("strict", "best_effort"):
        raise InvalidParams(f"determinism: unknown mode {request.determinism!r}")
    if any(not isinstance(s, str) or not s for s in request.stop):
        raise InvalidParams("stop: every stop sequence must be a non-empty string")


def _check_sampling(request: GenerateRequest) -> None:
    if isinstance(request.max_tokens, bool) or not isinstance(request.max_tokens, int):
        raise InvalidParams("max_tokens: must be an integer")
    if request.max_tokens < 1:
        raise InvalidParams("max_tokens: must be at least 1")
    if (
        isinstance(request.seed, bool)
        or not isinstance(request.seed, int)
        or not 0 <= request.seed <= SEED_MAX
    ):
        raise InvalidParams(f"seed: must be an integer in 0..{SEED_MAX}")
    if not math.isfinite(request.temperature) or request.temperature < 0:
        raise InvalidParams("temperature: must be a finite number >= 0")
    if not math.isfinite(request.top_p) or not 0 < request.top_p <= 1:
        raise InvalidParams("top_p: must be in (0, 1]")
    if isinstance(request.top_k, bool) or not isinstance(request.top_k, int) or request.top_k < 0:
        raise InvalidParams("top_k: must be an integer >= 0 (0 disables it)")


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One piece of generated text; `index` counts from 0 without gaps."""

    text: str
    index: int


@dataclass(frozen=True, slots=True)
class Timings:
    """Client-side timings of one stream, plus the engine's own figures when it reports them."""

    first_token_ms: float | None
    decode_ms: float
    total_ms: float
    engine_prompt_ms: float | None = None
    engine_decode_ms: float | None = None


@dataclass(frozen=True, slots=True)
class FinalEvent:
    """The last event of every successful stream (ORCH-7002)."""

    tokens_in: int
    tokens_out: int
    stop_reason: StopReason
    timings: Timings
    tool_calls: tuple[ToolCall, ...] = ()
    embeddings: tuple[tuple[float, ...], ...] = ()


StreamEvent: TypeAlias = TokenEvent | FinalEvent


@dataclass(frozen=True, slots=True)
class Health:
    """Three-valued engine health (ORCH-7008): `ready` implies `live`; `reason` says why not ready."""

    live: bool
    ready: bool
    state: HealthState
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Props:
    """What a replica offers: capacity, context window and the identity used for replay (ORCH-1021)."""

    slots_total: int
    slots_idle: int
    ctx_max: int
    model_id: str
    model_digest: str | None
    engine: EngineName
    engine_version: str


@dataclass(frozen=True, slots=True)
class EngineMetrics:
    """Engine counters and gauges read from its Prometheus endpoint (ORCH-7007).

    A field is None when the engine does not export it (Triton has no token counters, llama.cpp no KV
    usage). `kv_cache_usage` is a fraction in 0..1.
    """

    tokens_in_total: int | None
    tokens_out_total: int | None
    requests_running: int
    requests_queued: int
    kv_cache_usage: float | None = None
