"""Deadlines (ORCH-2201, ORCH-2202): refuse at admission what cannot finish in time; expire queued tasks.

A request's `deadline_ms` is relative to its admission; the scheduler keeps the absolute
`deadline_at_ms = now_ms + deadline_ms` on the task. A task is refused at admission when its predicted
start plus predicted decode exceeds `deadline_ms`; a queued task expires once `now_ms >= deadline_at_ms`
(the queue returns it from `next_task`/`expire_due` and the caller ends it with DEADLINE_UNMET).
"""

from __future__ import annotations

from orchestrator_core.errors import DeadlineUnmet, InvalidParams
from orchestrator_core.predictions import Prediction
from orchestrator_core.task import QueuedTask


def deadline_at(now_ms: float, deadline_ms: int | None) -> float | None:
    """The absolute deadline of a task admitted at `now_ms` with relative `deadline_ms` (None: none).

    Raises:
        InvalidParams: a deadline_ms that is not positive.
    """
    if deadline_ms is None:
        return None
    if isinstance(deadline_ms, bool) or deadline_ms <= 0:
        raise InvalidParams("deadline_ms must be a positive integer")
    return now_ms + deadline_ms


def check_admission(task: QueuedTask, prediction: Prediction, now_ms: float) -> None:
    """Refuse a task whose predicted start plus predicted decode exceeds its deadline.

    Raises:
        DeadlineUnmet: the prediction overruns the deadline; the message gives both figures.
    """
    if task.deadline_at_ms is None:
        return
    left_ms = task.deadline_at_ms - now_ms
    needed_ms = prediction.predicted_start_ms + prediction.predicted_decode_ms
    if needed_ms > left_ms:
        raise DeadlineUnmet(
            f"predicted start {prediction.predicted_start_ms:.0f} ms + decode "
            f"{prediction.predicted_decode_ms:.0f} ms exceeds deadline_ms {max(left_ms, 0.0):.0f}",
            pool_id=task.pool_id,
        )


def is_expired(task: QueuedTask, now_ms: float) -> bool:
    """Whether a queued task's deadline has passed."""
    return task.deadline_at_ms is not None and now_ms >= task.deadline_at_ms


def expired_error(task: QueuedTask) -> DeadlineUnmet:
    """The error that ends a task which expired while queued."""
    return DeadlineUnmet(
        f"task {task.task_id} expired in the queue before it could start", pool_id=task.pool_id
    )
