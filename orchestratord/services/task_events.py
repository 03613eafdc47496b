"""The typed events of a task's stream (ORCH-1010..1013, ORCH-1021, ORCH-1206) and the one stop-reason table.

The lifecycle builds these; the transcript stores each one's SSE frame, encoded once, for the native stream,
and keeps `Started` and the terminal `Ended` / `Failed` as objects, so the OpenAI relay and the task status
read typed values instead of parsing frames. Token events carry only their text and index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

import orjson

from orchestrator_core.errors import OrchError
from worker_adapters.types import StopReason as EngineStopReason
from worker_adapters.types import ToolCall

TaskStopReason: TypeAlias = Literal["eos", "stop_sequence", "max_tokens", "canceled", "tool_calls"]

# Why generation ended, in the three vocabularies that speak of it: the adapter's, the task's (the `end`
# event and the task status, contract StopReason) and OpenAI's `finish_reason`.
STOP_REASONS: tuple[tuple[EngineStopReason, TaskStopReason, str], ...] = (
    ("eos", "eos", "stop"),
    ("stop", "stop_sequence", "stop"),
    ("limit", "max_tokens", "length"),
    ("cancel", "canceled", "stop"),
    ("tool_calls", "tool_calls", "tool_calls"),
)
_TASK_STOP: dict[EngineStopReason, TaskStopReason] = {engine: task for engine, task, _ in STOP_REASONS}
_FINISH: dict[TaskStopReason, str] = {task: openai for _, task, openai in STOP_REASONS}


def task_stop_reason(engine: EngineStopReason) -> TaskStopReason:
    return _TASK_STOP.get(engine, "eos")


def finish_reason(stop: TaskStopReason) -> str:
    """OpenAI's `finish_reason` for a task's stop reason."""
    return _FINISH[stop]


def sse_frame(kind: str, payload: object, index: int | None = None) -> bytes:
    head = b"event: " + kind.encode()
    if index is not None:
        head += b"\nid: " + str(index).encode()
    return head + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def token_frame(text: str, index: int) -> bytes:
    return b"event: token\nid: %d\ndata: " % index + orjson.dumps({"t": text, "i": index}) + b"\n\n"


@dataclass(frozen=True, slots=True)
class ReplayIdentity:
    """What a run needs to be replayed: the replica set and sampling identity (ORCH-1021)."""

    pool_id: str
    replica_id: str
    engine: str
    engine_version: str
    model_digest: str | None
    sampler_profile_version: str
    seed: int

    def system_fingerprint(self) -> str:
        """engine-engine_version-digest prefix: equal fingerprints mean the same replica set."""
        digest = (self.model_digest or "").removeprefix("sha256:")
        return f"{self.engine}-{self.engine_version}-{digest[:12]}"


@dataclass(frozen=True, slots=True)
class Started:
    """The first event: where the task was admitted and the replay identity it runs with."""

    queue_position: int
    predicted_start_ms: int
    identity: ReplayIdentity

    def frame(self) -> bytes:
        identity = self.identity
        return sse_frame(
            "started",
            {
                "queue_position": self.queue_position,
                "predicted_start_ms": self.predicted_start_ms,
                "pool_id": identity.pool_id,
                "replica_id": identity.replica_id,
                "engine": identity.engine,
                "engine_version": identity.engine_version,
                "model_digest": identity.model_digest,
                "seed": identity.seed,
                "sampler_profile_version": identity.sampler_profile_version,
            },
        )


@dataclass(frozen=True, slots=True)
class Budgets:
    """What the task's session has left (None: no such budget configured)."""

    tokens: int | None
    time_ms: int | None


@dataclass(frozen=True, slots=True)
class Progress:
    """A `metrics` event, for verbose readers only."""

    queue_depth: int
    kv_warmth: bool
    on_time_probability: float
    budgets: Budgets | None = None

    def frame(self) -> bytes:
        payload: dict[str, object] = {
            "queue_depth": self.queue_depth,
            "kv_warmth": self.kv_warmth,
            "on_time_probability": self.on_time_probability,
        }
        if self.budgets is not None:
            payload["tokens_budget_remaining"] = self.budgets.tokens
            payload["time_budget_remaining_ms"] = self.budgets.time_ms
        return sse_frame("metrics", payload)


@dataclass(frozen=True, slots=True)
class Ended:
    """The terminal event of a task that succeeded or was canceled."""

    tokens_in: int
    tokens_out: int
    decode_time_ms: int
    stop_reason: TaskStopReason
    tool_calls: tuple[ToolCall, ...] = ()
    # The vectors of an `embedding` task, kept for its one answer, not sent in the native frame.
    embeddings: tuple[tuple[float, ...], ...] = ()

    def frame(self) -> bytes:
        payload: dict[str, object] = {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "decode_time_ms": self.decode_time_ms,
            "stop_reason": self.stop_reason,
        }
        if self.tool_calls:
            payload["tool_calls"] = tool_call_objects(self.tool_calls)
        return sse_frame("end", payload)


def tool_call_objects(calls: tuple[ToolCall, ...]) -> list[dict[str, object]]:
    """Tool calls as OpenAI (and the `end` event) spell them (ORCH-1069)."""
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls
    ]


@dataclass(frozen=True, slots=True)
class Failed:
    """The terminal event of a failed task: the typed error itself, and the engine of its replica."""

    error: OrchError
    engine: str | None

    def payload(self) -> dict[str, object]:
        error = self.error
        payload: dict[str, object] = {
            "code": error.code,
            "message": error.message,
            "engine": self.engine,
            "retriable": error.is_retriable,
            "retry_after_ms": error.retry_after_ms,
        }
        if error.policy_label is not None:
            payload["policy_label"] = error.policy_label
        return payload

    def frame(self) -> bytes:
        return sse_frame("error", self.payload())


Outcome: TypeAlias = Ended | Failed
