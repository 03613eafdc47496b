"""Task records in Redis, shared by every orchestratord instance (ORCH-4106).

One hash per task holds what another instance needs to run it (the spec, its queued form, the seed and
the admission), to answer its status (state, owner, timings, replay identity) and to refuse a different
body under the same client task_id. A client-chosen id is claimed atomically before admission, so two
instances admitting the same id at once admit it once. Live records have no TTL; an ended one is kept for
the transcript retention.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from orchestrator_core.errors import Conflict
from orchestrator_core.task import QueuedTask
from orchestratord.services.task_events import ReplayIdentity
from orchestratord.services.task_registry import Admission
from orchestratord.services.task_spec import TaskSpec, TaskState

from . import codec
from .queue import decode as decode_queued
from .queue import encode as encode_queued

# A claim whose admission never completed (its instance died mid-way) frees the id after this long.
CLAIM_TTL_S = 30

# KEYS[1] the record. ARGV: tenant, fingerprint hex. Answers nil when claimed now, else the earlier
# {tenant, fingerprint, admission or ''}.
CLAIM = """
if redis.call('HSETNX', KEYS[1], 'tenant', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'fp', ARGV[2], 'state', 'admitting')
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return nil
end
local earlier = redis.call('HMGET', KEYS[1], 'tenant', 'fp', 'admission')
return {earlier[1], earlier[2] or '', earlier[3] or ''}
"""

REQUEST_CANCEL = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'cancel', 1) end
"""


@dataclass(frozen=True, slots=True)
class SharedRecord:
    """A task as Redis holds it: what it is, and how far it got on whichever instance runs it."""

    spec: TaskSpec
    queued: QueuedTask
    seed: int
    admission: Admission
    admitted_at: float
    state: TaskState
    owner: str | None
    started_at: float | None
    first_token_at: float | None
    ended_at: float | None
    tokens_in: int | None
    identity: ReplayIdentity | None
    cancel_requested: bool


def _float(value: bytes | None) -> float | None:
    return float(value) if value else None


class RedisTaskTable:
    """Task records under `prefix` on a redis-py asyncio client (bytes replies)."""

    def __init__(self, redis: Redis, *, prefix: str = "orch") -> None:
        self._redis = redis
        self._prefix = prefix
        self._claim = redis.register_script(CLAIM)
        self._request_cancel = redis.register_script(REQUEST_CANCEL)

    def key(self, task_id: str) -> str:
        return f"{self._prefix}:task:{task_id}"

    async def claim(self, spec: TaskSpec) -> Admission | None:
        """Claims a client-chosen task_id for `spec`; the earlier admission of an identical submission.

        Raises:
            Conflict: the id was used with another body or by another tenant, or an identical submission
                is being admitted by another instance right now (retriable).
        """
        fingerprint = spec.fingerprint.hex() if spec.fingerprint is not None else ""
        earlier = await self._claim(
            keys=[self.key(spec.task_id)], args=[spec.tenant, fingerprint, CLAIM_TTL_S]
        )
        if earlier is None:
            return None
        tenant, earlier_fp, admission = earlier
        if not earlier_fp or earlier_fp.decode() != fingerprint or tenant.decode() != spec.tenant:
            raise Conflict(f"task_id {spec.task_id} was already used with a different request")
        if not admission:
            raise Conflict(f"task_id {spec.task_id} is being admitted by another request", retriable=True)
        return codec.decode_admission(admission)

    async def forget(self, task_id: str) -> None:
        """Drops a claim whose admission was refused."""
        await self._redis.delete(self.key(task_id))

    async def put(
        self, spec: TaskSpec, queued: QueuedTask, seed: int, admission: Admission, admitted_at: float
    ) -> None:
        """The record of a task just admitted: from now on any instance can run, read and cancel it."""
        key = self.key(spec.task_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "tenant": spec.tenant,
                    "fp": spec.fingerprint.hex() if spec.fingerprint is not None else "",
                    "spec": codec.encode_spec(spec),
                    "queued": encode_queued(queued),
                    "seed": seed,
                    "admission": codec.encode_admission(admission),
                    "admitted_at": repr(admitted_at),
                    "state": TaskState.QUEUED.value,
                },
            )
            pipe.persist(key)
            await pipe.execute()

    async def load(self, task_id: str) -> SharedRecord | None:
        """The record of `task_id`, or None when no instance knows it (or its admission is not complete)."""
        fields: Any = await self._redis.hgetall(self.key(task_id))
        if b"spec" not in fields:
            return None
        identity = fields.get(b"identity")
        tokens_in = fields.get(b"tokens_in")
        return SharedRecord(
            spec=codec.decode_spec(fields[b"spec"]),
            queued=decode_queued(fields[b"queued"]),
            seed=int(fields[b"seed"]),
            admission=codec.decode_admission(fields[b"admission"]),
            admitted_at=float(fields[b"admitted_at"]),
            state=TaskState(fields[b"state"].decode()),
            owner=fields[b"owner"].decode() if fields.get(b"owner") else None,
            started_at=_float(fields.get(b"started_at")),
            first_token_at=_float(fields.get(b"first_token_at")),
            ended_at=_float(fields.get(b"ended_at")),
            tokens_in=int(tokens_in) if tokens_in else None,
            identity=ReplayIdentity(**orjson.loads(identity)) if identity else None,
            cancel_requested=bool(fields.get(b"cancel")),
        )

    async def running(self, task_id: str, owner: str, started_at: float, identity: ReplayIdentity) -> None:
        """`owner` runs the task now, placed with `identity`."""
        mapping: Any = {
            "state": TaskState.RUNNING.value,
            "owner": owner,
            "started_at": repr(started_at),
            "identity": orjson.dumps(asdict(identity)),
        }
        await self._redis.hset(self.key(task_id), mapping=mapping)

    async def request_cancel(self, task_id: str) -> None:
        """Marks the task canceled-on-request, for the instance that takes it from a queue next."""
        await self._request_cancel(keys=[self.key(task_id)])

    async def requeued(self, task_id: str) -> None:
        """The task is back in its queue, owned by nobody until it is dispatched again."""
        await self._redis.hset(self.key(task_id), mapping={"state": TaskState.QUEUED.value, "owner": ""})

    async def ended(
        self,
        task_id: str,
        state: TaskState,
        *,
        ended_at: float,
        first_token_at: float | None,
        tokens_in: int | None,
        retention_s: float,
    ) -> None:
        """The task reached `state`; its record is kept for `retention_s`."""
        key = self.key(task_id)
        mapping: Any = {"state": state.value, "ended_at": repr(ended_at), "owner": ""}
        if first_token_at is not None:
            mapping["first_token_at"] = repr(first_token_at)
        if tokens_in is not None:
            mapping["tokens_in"] = tokens_in
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, max(1, round(retention_s)))
            await pipe.execute()
