"""Value types for a task waiting in a pool queue: who sent it, how big it is, when it must finish."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orchestrator_core.errors import InvalidParams


class Priority(StrEnum):
    """The two priority classes of the admission queue (ORCH-2002); `interactive` is the default."""

    INTERACTIVE = "interactive"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class QueuedTask:
    """One admitted task as the scheduler sees it.

    `estimated_tokens` is the expected output length (expected_tokens, else max_tokens); it is the cost the
    tenant fair share is measured in and the length decode time is predicted for. `deadline_at_ms` is an
    absolute time on the same clock as `enqueued_ms` (admission time + the request's `deadline_ms`).
    """

    task_id: str
    tenant: str
    pool_id: str
    priority: Priority = Priority.INTERACTIVE
    estimated_tokens: int = 1
    enqueued_ms: float = 0.0
    deadline_at_ms: float | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        """Reject values the scheduler cannot order or charge.

        Raises:
            InvalidParams: an empty id, tenant or pool, or a negative token estimate.
        """
        if not self.task_id:
            raise InvalidParams("task_id must not be empty")
        if not self.tenant:
            raise InvalidParams("tenant must not be empty")
        if not self.pool_id:
            raise InvalidParams("pool_id must not be empty")
        if self.estimated_tokens < 0:
            raise InvalidParams("estimated_tokens must be >= 0")

    @property
    def cost(self) -> int:
        """Fair-share charge of this task: its estimated tokens, at least 1 so every task costs something."""
        return self.estimated_tokens if self.estimated_tokens > 0 else 1
