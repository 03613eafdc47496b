"""Refused task submissions, counted by error code in `orchd_tasks_rejected_total` (metrics spec).

A submission (`POST /v1/tasks` and the OpenAI facade's completions) can be refused before admission runs
(limits, authentication, body validation, headers), by admission itself, or not at all: an error of the
facade's non-streaming answer comes after the task was admitted. Admission counts its own refusals with the
resolved pool; this module counts the earlier ones (pool `_none`) and never those after admission ran.
"""

from __future__ import annotations

from starlette.types import Scope

from orchestrator_core.errors import OrchError

from ..services.metrics import DaemonMetrics

SUBMISSIONS = frozenset(
    {("POST", "/v1/tasks"), ("POST", "/v1/completions"), ("POST", "/v1/chat/completions")}
)
_ADMISSION_RAN = "orchqueue.admission_ran"


def is_submission(scope: Scope) -> bool:
    return (scope.get("method"), scope.get("path")) in SUBMISSIONS


def admission_runs(scope: Scope) -> None:
    """Marks the request as handed to admission, which counts any refusal from here on."""
    scope[_ADMISSION_RAN] = True


class RefusalCounter:
    """Counts an error answered to a submission that admission has not seen."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self._metrics = metrics

    def __call__(self, scope: Scope, error: OrchError) -> None:
        if is_submission(scope) and not scope.get(_ADMISSION_RAN, False):
            self._metrics.task_rejected(None, error.code)
