"""The core's admission order on the in-memory queue and quotas, run to its end without an event loop.

`LocalQueue` and `LocalQuotas` never suspend, so the coroutine finishes on its first step; that it does is
asserted, since it is what keeps the embedded admission free of interleaving (orchestrator_core/stores.py).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from orchestrator_core.admission import Admitted, PoolState, SessionGuard, admit
from orchestrator_core.queue import PoolQueue
from orchestrator_core.quotas import TenantQuotas
from orchestrator_core.stores import LocalQueue, LocalQuotas
from orchestrator_core.task import QueuedTask

T = TypeVar("T")


def run_now(step: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that completes without suspending; AssertionError if it suspends."""
    try:
        step.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    step.close()
    raise AssertionError("the in-memory admission suspended")


def admit_now(
    task: QueuedTask,
    queue: PoolQueue,
    pool: PoolState,
    *,
    quotas: TenantQuotas,
    sessions: SessionGuard,
    now_ms: float,
) -> Admitted:
    return run_now(
        admit(task, LocalQueue(queue), pool, quotas=LocalQuotas(quotas), sessions=sessions, now_ms=now_ms)
    )
