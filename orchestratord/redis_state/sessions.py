"""Sessions shared through Redis (ORCH-4117): a session's turns, budgets and affinity hold across every
instance, whichever one admits, places or ends its turns.

Each instance decides with its own `SessionStore`, exactly as in the embedded mode, so refusals, budgets
and warmth are the same by construction; Redis holds each session's latest state (its `SessionSnapshot`
as JSON, expiring with the session's TTL). An admission takes the session's lock, brings the latest state
in, decides, and writes the result back before it lets the lock go, so two instances never both admit the
session's last turn. A later change (the replica a turn was placed on, what an ended turn used) is applied
the same way a moment later, to the latest state. Placement reads the latest state without the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import astuple
from typing import Any

import orjson
from redis.asyncio import Redis

from orchestrator_core.budgets import BudgetLimits, BudgetUsage
from orchestrator_core.errors import Conflict
from orchestrator_core.replica import ReplicaSetIdentity
from orchestratord.services.behind import OUTAGE_WRITE_S, WriteBehind
from orchestratord.services.sessions import Session, SessionSnapshot
from orchestratord.services.state import SessionState

from .keys import session_keys

LOCK_TTL_MS = 5_000  # a holder that died frees the session after this long
LOCK_WAIT_S = 2.0
LOCK_POLL_S = 0.005
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def encode(snapshot: SessionSnapshot) -> bytes:
    session, budget = snapshot.session, snapshot.budget
    identity = None if session.identity is None else astuple(session.identity)
    return orjson.dumps(
        {
            "tenant": session.tenant,
            "idle_s": snapshot.idle_s,
            "turns": session.turns,
            "last_replica_id": session.last_replica_id,
            "identity": identity,
            "kv_warmth": session.kv_warmth,
            "kv_bytes": session.kv_bytes,
            "budget": None if budget is None else {
                "limits": [budget.limits.tokens, budget.limits.time_ms],
                "tokens": budget.tokens,
                "time_ms": budget.time_ms,
                "reserved": budget.reserved,
            },
        }
    )  # fmt: skip


def decode(session_id: str, blob: bytes) -> SessionSnapshot:
    fields: dict[str, Any] = orjson.loads(blob)
    identity = fields["identity"]
    session = Session(
        session_id=session_id,
        tenant=fields["tenant"],
        last_used_at=0.0,
        turns=fields["turns"],
        last_replica_id=fields["last_replica_id"],
        identity=None if identity is None else ReplicaSetIdentity(*identity),
        kv_warmth=fields["kv_warmth"],
        kv_bytes=fields["kv_bytes"],
    )
    budget = fields["budget"]
    usage = None
    if budget is not None:
        tokens, time_ms = budget["limits"]
        usage = BudgetUsage(
            BudgetLimits(tokens, time_ms), budget["tokens"], budget["time_ms"], budget["reserved"]
        )
    return SessionSnapshot(session, fields["idle_s"], usage)


class SharedSessions:
    """This instance's side of the shared sessions under `prefix`, around its own `store`."""

    def __init__(self, redis: Redis, *, prefix: str, store: SessionState) -> None:
        self._redis = redis
        self._prefix = prefix
        self._store = store
        self._unlock = redis.register_script(UNLOCK)
        self.behind = WriteBehind()

    @contextlib.asynccontextmanager
    async def turn(self, session_id: str) -> AsyncIterator[None]:
        """One instance at a time decides on the session, from its latest state, and writes the result.

        Raises:
            Conflict: another instance held the session longer than the wait (retriable).
        """
        lock_key = session_keys(self._prefix, session_id)[1]
        token = secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + LOCK_WAIT_S
        while not await self._redis.set(lock_key, token, nx=True, px=LOCK_TTL_MS):
            if loop.time() > give_up_at:
                raise Conflict(f"session {session_id} is busy with another admission; retry", retriable=True)
            await asyncio.sleep(LOCK_POLL_S)
        try:
            await self.pull(session_id)
            try:
                yield
            finally:  # a refusal may have changed it too (a retired replica set deletes the session)
                await self._push(session_id)
        finally:
            await self._unlock(keys=[lock_key], args=[token])

    async def pull(self, session_id: str) -> None:
        """This instance's copy of the session becomes its latest state (gone: it ended elsewhere)."""
        blob: Any = await self._redis.get(session_keys(self._prefix, session_id)[0])
        self._store.restore(session_id, None if blob is None else decode(session_id, bytes(blob)))

    async def _push(self, session_id: str) -> None:
        key = session_keys(self._prefix, session_id)[0]
        snapshot = self._store.snapshot(session_id)
        if snapshot is None:
            await self._redis.delete(key)
            return
        ttl_ms = max(1, int((self._store.limits.ttl_s - snapshot.idle_s) * 1000))
        await self._redis.set(key, encode(snapshot), px=ttl_ms)

    def changed(self, session_id: str, change: Callable[[], object]) -> None:
        """`change` (already made to this copy) is made again to the latest state, under the session's
        lock, a moment later."""

        async def apply() -> None:
            async with self.turn(session_id):
                change()

        self.behind.submit_retrying(apply, for_s=OUTAGE_WRITE_S)

    async def deleted(self, session_id: str) -> None:
        await self._redis.delete(session_keys(self._prefix, session_id)[0])
