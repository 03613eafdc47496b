"""The internal description of a task, independent of the HTTP surface that submitted it.

`POST /v1/tasks` and the OpenAI-compatible facade both build a `TaskSpec` and hand it to admission.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from orchestrator_core.deadlines import deadline_at
from orchestrator_core.task import Priority as PriorityClass
from orchestrator_core.task import QueuedTask
from orchestrator_core.vocabulary import Determinism, PriorityName, Workload
from worker_adapters.types import ChatMessage


class TaskState(StrEnum):
    """Lifecycle of a task as reported by GET /v1/tasks/{id} (ORCH-1020)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELED)


@dataclass(frozen=True, slots=True)
class PlacementSpec:
    """Placement wishes of the caller (ORCH-3003)."""

    mode: Literal["pin", "prefer", "auto"] = "auto"
    pin_pool_id: str | None = None
    pin_replica_id: str | None = None
    prefer_pools: tuple[str, ...] = ()
    avoid_pools: tuple[str, ...] = ()
    allow_fallback: bool = True


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """Everything admission and dispatch need to know about one task.

    `fingerprint`, the digest of the submitted body, is set only for a client-chosen task_id, so a repeat
    can be told apart from a different request reusing the id (ORCH-1005). `seed` is None when the client
    gave none; admission derives it.
    """

    task_id: str
    tenant: str
    model_ref: str
    max_tokens: int
    fingerprint: bytes | None = None
    prompt: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    session_id: str | None = None
    workload: Workload = "completion"
    engine: str | None = None
    ctx: int | None = None
    priority: PriorityName = "interactive"
    deadline_ms: int | None = None
    seed: int | None = None
    determinism: Determinism = "best_effort"
    sampler_profile_version: str = "v1"
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    expected_tokens: int | None = None
    kv_hint: Literal["reuse", "cold"] | None = None
    placement: PlacementSpec = field(default_factory=PlacementSpec)
    client_task_id: bool = False
    # OpenAI's tool and output-format fields as JSON text (ORCH-1069, ORCH-1090).
    tools: str | None = None
    tool_choice: str | None = None
    parallel_tool_calls: bool | None = None
    response_format: str | None = None
    # Penalties and logit biases of the OpenAI routes (ORCH-1092); None asks for nothing.
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: str | None = None
    inputs: tuple[str, ...] = ()  # the texts of an `embedding` task (ORCH-1094)

    @property
    def features(self) -> frozenset[str]:
        """What the task needs of its engine besides generation (ORCH-1091)."""
        asked = {
            "tools": self.tools is not None,
            "response_format": self.response_format is not None,
            "penalties": bool(self.presence_penalty or self.frequency_penalty),
            "logit_bias": self.logit_bias is not None,
        }
        return frozenset(name for name, wanted in asked.items() if wanted)

    @property
    def prompt_bytes(self) -> int:
        if self.prompt is not None:
            return len(self.prompt.encode())
        if self.inputs:
            return sum(len(text.encode()) for text in self.inputs)
        calls = (c.arguments for m in self.messages or () for c in m.tool_calls)
        return sum(len(m.content.encode()) for m in self.messages or ()) + sum(len(a.encode()) for a in calls)

    @property
    def estimated_tokens(self) -> int:
        """Tokens the task is expected to decode, for fairness and predictions."""
        return self.expected_tokens or self.max_tokens


def queued_task(spec: TaskSpec, pool_id: str, admitted_ms: float) -> QueuedTask:
    """The one queued form of a task, built once at admission; a requeue puts the same object back."""
    return QueuedTask(
        task_id=spec.task_id,
        tenant=spec.tenant,
        pool_id=pool_id,
        priority=PriorityClass(spec.priority),
        estimated_tokens=spec.estimated_tokens,
        enqueued_ms=admitted_ms,
        deadline_at_ms=deadline_at(admitted_ms, spec.deadline_ms),
        session_id=spec.session_id,
    )


def new_task_id() -> str:
    return str(uuid.uuid4())
