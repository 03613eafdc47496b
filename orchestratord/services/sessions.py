"""Sessions: TTL, turn limit, token/time budgets and affinity to the last replica (ORCH-4501, ORCH-4502).

A session is created by the first task that names it and lives `ttl_s` after its last use. Budgets are the
core's `SessionBudgets`, checked before enqueue (ORCH-2303). A session keeps the replica set of its first
turn, so its turns never mix sets (ORCH-3004), and remembers the last replica for warm-KV affinity.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from orchestrator_core.budgets import BudgetLimits, BudgetUsage, SessionBudgets
from orchestrator_core.errors import Conflict, NotFound
from orchestrator_core.replica import ReplicaSetIdentity

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    ttl_s: float = 600.0
    max_turns: int = 8
    tokens_budget: int | None = None
    time_budget_ms: int | None = None


@dataclass(slots=True)
class Session:
    """Mutable state of one session."""

    session_id: str
    tenant: str
    last_used_at: float
    turns: int = 0
    last_replica_id: str | None = None
    identity: ReplicaSetIdentity | None = None
    kv_warmth: bool = False
    kv_bytes: int = 0


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """One session as another instance needs it (ORCH-4117): its state, its age and its budget."""

    session: Session
    idle_s: float
    budget: BudgetUsage | None


@dataclass(frozen=True, slots=True)
class SessionView:
    """GET /v1/sessions/{id} (ORCH-1040)."""

    ttl_ms_remaining: int
    turns: int
    kv_bytes: int
    kv_warmth: bool
    tokens_budget_remaining: int | None
    time_budget_remaining_ms: int | None


class SessionStore:
    """All live sessions, expired lazily on access and by the lifespan reaper."""

    def __init__(self, clock: Clock, limits: SessionLimits) -> None:
        self._clock = clock
        self.limits = limits
        self.budgets = SessionBudgets()
        self._budget_limits = BudgetLimits(limits.tokens_budget, limits.time_budget_ms)
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def _live(self, session_id: str) -> Session | None:
        session = self._sessions.get(session_id)
        if session is not None and self._clock() - session.last_used_at >= self.limits.ttl_s:
            self._drop(session_id)
            return None
        return session

    def _drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self.budgets.close(session_id)

    def get(self, session_id: str, tenant: str) -> Session:
        session = self._live(session_id)
        # Another tenant's session is answered like an unknown one, so ids leak nothing.
        if session is None or session.tenant != tenant:
            raise NotFound(f"session {session_id} is unknown or expired")
        return session

    def find(self, session_id: str | None) -> Session | None:
        return None if session_id is None else self._live(session_id)

    def check_turn(self, session_id: str, tenant: str, tokens: int) -> None:
        """Refuses one more turn of `tokens`: Conflict at the turn limit, QuotaExceeded over a budget."""
        session = self._live(session_id)
        if session is None:
            return
        if session.tenant != tenant:
            raise Conflict(f"session {session_id} belongs to another tenant; use a new session id")
        if session.turns >= self.limits.max_turns:
            raise Conflict(
                f"session {session_id} has used its {self.limits.max_turns} turns; start a new session"
            )
        self.budgets.check(session_id, tokens, retry_after_ms=1000)

    def check_replica_set(
        self, session_id: str, tenant: str, registered: Collection[ReplicaSetIdentity]
    ) -> None:
        """Conflict when the replica set of the session's turns is no longer registered (a reload or a
        deregistration retired it); the session is forgotten so the client knowingly starts a new one
        instead of mixing model versions (ORCH-3010)."""
        session = self._live(session_id)
        if session is None or session.tenant != tenant or session.identity is None:
            return
        retired = session.identity
        if retired in registered:
            return
        self._drop(session_id)
        raise Conflict(
            f"session {session_id} ran on replica set (engine {retired.engine}, engine_version "
            f"{retired.engine_version}, model_digest {retired.model_digest}, sampler_profile_version "
            f"{retired.sampler_profile_version}), which is no longer registered; the session was deleted, "
            "start a new session"
        )

    def begin_turn(self, session_id: str, tenant: str, task_id: str, tokens: int) -> Session:
        """Counts the turn of an admitted task and reserves its tokens, creating the session on first use."""
        session = self._live(session_id)
        if session is None:
            session = Session(session_id, tenant, self._clock())
            self._sessions[session_id] = session
            self.budgets.open(session_id, self._budget_limits)
        session.turns += 1
        session.last_used_at = self._clock()
        self.budgets.reserve(session_id, task_id, tokens)
        return session

    def record_placement(self, session_id: str, replica_id: str, identity: ReplicaSetIdentity) -> bool:
        """Notes where the session's turn runs; returns kv_warmth (same replica as the previous turn)."""
        session = self._live(session_id)
        if session is None:
            return False
        session.kv_warmth = session.last_replica_id == replica_id
        session.last_replica_id = replica_id
        session.identity = session.identity or identity
        session.last_used_at = self._clock()
        return session.kv_warmth

    def settle(self, task_id: str, session_id: str | None, tokens: int, time_ms: float, ran: bool) -> None:
        """A task of the session ended: charge what it used, or drop its reservation if it never ran."""
        if ran:
            self.budgets.settle(task_id, tokens_used=tokens, time_ms=time_ms)
        else:
            self.budgets.release(task_id)
        session = self.find(session_id)
        if session is not None:
            session.last_used_at = self._clock()

    def delete(self, session_id: str, tenant: str) -> bool:
        """Ends the session; unknown, expired or foreign ids are a no-op (DELETE is always 204). Whether
        it ended one."""
        session = self._live(session_id)
        if session is None or session.tenant != tenant:
            return False
        self._drop(session_id)
        return True

    def view(self, session_id: str, tenant: str) -> SessionView:
        session = self.get(session_id, tenant)
        remaining = self.budgets.remaining(session_id)
        return SessionView(
            ttl_ms_remaining=self._ttl_remaining_ms(session),
            turns=session.turns,
            kv_bytes=session.kv_bytes,
            kv_warmth=session.kv_warmth,
            tokens_budget_remaining=remaining.tokens,
            time_budget_remaining_ms=None if remaining.time_ms is None else int(remaining.time_ms),
        )

    def _ttl_remaining_ms(self, session: Session) -> int:
        remaining = self.limits.ttl_s - (self._clock() - session.last_used_at)
        return max(0, int(remaining * 1000))

    def snapshot(self, session_id: str) -> SessionSnapshot | None:
        """The live session as it stands here, for the other instances; None when unknown or expired."""
        session = self._live(session_id)
        if session is None:
            return None
        copy = replace(session)
        return SessionSnapshot(copy, self._clock() - session.last_used_at, self.budgets.usage(session_id))

    def restore(self, session_id: str, snapshot: SessionSnapshot | None) -> None:
        """Takes the session as another instance left it (None: it ended there), replacing this copy."""
        if snapshot is None:
            self._drop(session_id)
            return
        session = replace(snapshot.session, last_used_at=self._clock() - snapshot.idle_s)
        self._sessions[session_id] = session
        if snapshot.budget is not None:
            self.budgets.restore(session_id, snapshot.budget)

    def expire_and_count(self) -> int:
        """Live sessions after expiring the stale ones."""
        self.expire()
        return len(self._sessions)

    def expire(self) -> int:
        now = self._clock()
        stale = [sid for sid, s in self._sessions.items() if now - s.last_used_at >= self.limits.ttl_s]
        for sid in stale:
            self._drop(sid)
        return len(stale)
