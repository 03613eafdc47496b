"""Per-session budgets (ORCH-2303): tokens and decode time a session may spend, checked before enqueue.

Admitted tasks reserve their estimated tokens; when a task ends its reservation is replaced by what it
really used. A refusal caused only by reservations of tasks still running can succeed later, so it carries
the caller's `retry_after_ms`; a budget that is really spent cannot recover within the session, so that
refusal carries no retry_after_ms (the client needs a new session).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator_core.errors import InvalidParams, QuotaExceeded
from orchestrator_core.quotas import QUOTA_LABEL


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """Budget of one session; None means unlimited."""

    tokens: int | None = None
    time_ms: float | None = None

    def __post_init__(self) -> None:
        """Validate the limits.

        Raises:
            InvalidParams: a negative budget.
        """
        if (self.tokens is not None and self.tokens < 0) or (self.time_ms is not None and self.time_ms < 0):
            raise InvalidParams("session budgets must be >= 0")


@dataclass(frozen=True, slots=True)
class BudgetRemaining:
    """What a session may still spend (None: unlimited); reserved tokens count as spent."""

    tokens: int | None
    time_ms: float | None


@dataclass(frozen=True, slots=True)
class BudgetUsage:
    """One session's budget as `SessionBudgets.usage` answers it: limits, spent, and held per task."""

    limits: BudgetLimits
    tokens: int
    time_ms: float
    reserved: dict[str, int]


class _Usage:
    __slots__ = ("limits", "reserved", "time_ms", "tokens")

    def __init__(self, limits: BudgetLimits) -> None:
        self.limits = limits
        self.tokens = 0
        self.time_ms = 0.0
        self.reserved: dict[str, int] = {}


class SessionBudgets:
    """Token and time budgets of open sessions; sessions without a budget are unlimited."""

    __slots__ = ("_sessions", "_task_session")

    def __init__(self) -> None:
        """Create an empty table."""
        self._sessions: dict[str, _Usage] = {}
        self._task_session: dict[str, str] = {}

    def open(self, session_id: str, limits: BudgetLimits) -> None:
        """Give a session its budget; reopening changes the limits and keeps what was spent."""
        usage = self._sessions.get(session_id)
        if usage is None:
            self._sessions[session_id] = _Usage(limits)
        else:
            usage.limits = limits

    def close(self, session_id: str) -> None:
        """Forget a session (expired or deleted); its tasks' reservations go with it."""
        usage = self._sessions.pop(session_id, None)
        if usage is not None:
            for task_id in usage.reserved:
                self._task_session.pop(task_id, None)

    def check(self, session_id: str | None, tokens: int, *, retry_after_ms: int | None = None) -> None:
        """Refuse a task of `tokens` estimated tokens that the session's budget cannot cover.

        Raises:
            QuotaExceeded: tokens or time exhausted (policy_label `quota`; `retry_after_ms` only when
                running tasks' reservations are what blocks it).
        """
        usage = self._sessions.get(session_id) if session_id is not None else None
        if usage is None:
            return
        limits = usage.limits
        if limits.time_ms is not None and usage.time_ms >= limits.time_ms:
            raise QuotaExceeded("session time budget is spent", policy_label=QUOTA_LABEL)
        if limits.tokens is None:
            return
        if usage.tokens + tokens > limits.tokens:
            raise QuotaExceeded("session token budget is spent", policy_label=QUOTA_LABEL)
        if usage.tokens + sum(usage.reserved.values()) + tokens > limits.tokens:
            raise QuotaExceeded(
                "session token budget is reserved by running tasks",
                retry_after_ms=None if retry_after_ms is None else max(1, retry_after_ms),
                policy_label=QUOTA_LABEL,
            )

    def reserve(self, session_id: str | None, task_id: str, tokens: int) -> None:
        """Hold `tokens` of the session's budget for an admitted task (no-op without a budget)."""
        if session_id is None or session_id not in self._sessions:
            return
        self._sessions[session_id].reserved[task_id] = tokens
        self._task_session[task_id] = session_id

    def settle(self, task_id: str, *, tokens_used: int, time_ms: float) -> None:
        """A task ended after running: charge what it used instead of its reservation. Idempotent."""
        usage = self._release(task_id)
        if usage is not None:
            usage.tokens += max(0, tokens_used)
            usage.time_ms += max(0.0, time_ms)

    def release(self, task_id: str) -> bool:
        """A task ended without running (canceled, evicted, expired): drop its reservation. Idempotent."""
        return self._release(task_id) is not None

    def usage(self, session_id: str) -> BudgetUsage | None:
        """What the session spent and holds, to be restored elsewhere (`restore`); None when unknown."""
        usage = self._sessions.get(session_id)
        if usage is None:
            return None
        return BudgetUsage(usage.limits, usage.tokens, usage.time_ms, dict(usage.reserved))

    def restore(self, session_id: str, state: BudgetUsage) -> None:
        """Replaces the session's budget with `state` (another instance's `usage` of it)."""
        self.close(session_id)
        usage = self._sessions[session_id] = _Usage(state.limits)
        usage.tokens, usage.time_ms = state.tokens, state.time_ms
        usage.reserved = dict(state.reserved)
        for task_id in usage.reserved:
            self._task_session[task_id] = session_id

    def remaining(self, session_id: str) -> BudgetRemaining:
        """What the session may still spend; an unknown session is unlimited."""
        usage = self._sessions.get(session_id)
        if usage is None:
            return BudgetRemaining(None, None)
        limits = usage.limits
        tokens = None
        if limits.tokens is not None:
            tokens = max(0, limits.tokens - usage.tokens - sum(usage.reserved.values()))
        time_ms = None if limits.time_ms is None else max(0.0, limits.time_ms - usage.time_ms)
        return BudgetRemaining(tokens, time_ms)

    def _release(self, task_id: str) -> _Usage | None:
        session_id = self._task_session.pop(task_id, None)
        if session_id is None:
            return None
        usage = self._sessions.get(session_id)
        if usage is not None:
            usage.reserved.pop(task_id, None)
        return usage
