"""Task records in Redis, shared by every orchestratord instance (ORCH-4106).

One hash per task holds what another instance needs to run it (the spec, its queued form, the seed and
the admission), to answer its status (state, owner, timings, replay identity) and to refuse a different
body under the same client task_id. A client-chosen id is claimed atomically before admission, so two
instances admitting the same id at once admit it once. Live records have no TTL; an ended one is kept for
the transcript retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from orchestrator_core.errors import Conflict
from orchestrator_core.task import QueuedTask
from orchestratord.services.task_events import ReplayIdentity
from orchestratord.services.task_registry import Admission
from orchestratord.services.task_spec import TaskSpec, TaskState
from orchestratord.services.transcript import Chunk

from . import codec
from .keys import stream_key, taken_keys, task_key
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

# The fence of every write about a running task (ORCH-4112): refused when the record is gone or ended, or
# when another instance owns the task (it took the task over from an instance it found dead). KEYS[1] the
# record, ARGV[1] the writing instance.
FENCE = """
local state, owner = unpack(redis.call('HMGET', KEYS[1], 'state', 'owner'))
local ended = {succeeded = true, failed = true, canceled = true}
if not state or ended[state] or (owner and owner ~= '' and owner ~= ARGV[1]) then return 0 end
"""

# ARGV[2] the retention in seconds, '' while the task lives; ARGV[3..] field, value pairs. Answers 1 when
# written, 0 when fenced.
WRITE = (
    FENCE
    + """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if ARGV[2] ~= '' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""
)

# A task's end in one call (ORCH-4108): its last transcript entry, when there is one, then its final
# state, so a reader that finds the state ended finds the whole stream. KEYS[1] the record, KEYS[2] the
# stream; ARGV[1] the writer, ARGV[2] the retention in seconds, ARGV[3] how many entry fields follow as
# pairs, then the entry's field, value pairs, then the record's. Answers 1 when written, 0 when fenced.
END = (
    FENCE
    + """
local entry_fields = tonumber(ARGV[3])
if entry_fields > 0 then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4, 3 + 2 * entry_fields)) end
redis.call('HSET', KEYS[1], unpack(ARGV, 4 + 2 * entry_fields))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""
)

# ARGV[1] the dead owner, ARGV[2] the instance that takes the task over. Answers 1 when taken over.
TAKE_OVER = (
    FENCE
    + """
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
return 1
"""
)

# KEYS[1] the record, ARGV field, value pairs: written and made permanent (a claim's expiry dropped).
PUT = """
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('PERSIST', KEYS[1])
"""

# KEYS[1] the record, ARGV[1] the admission: written only while the record exists, so an admission
# answered after the task already ran and expired elsewhere leaves no stray key behind.
ADMISSION = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'admission', ARGV[1]) end
"""

# KEYS the pool's taken hashes, ARGV[1] the task: its queue forgets it as taken.
UNTAKE = """
for _, key in ipairs(KEYS) do redis.call('HDEL', key, ARGV[1]) end
"""

REQUEST_CANCEL = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'cancel', 1) end
"""


@dataclass(frozen=True, slots=True)
class Flags:
    """What an instance holding a copy of a record needs to know before it runs the task."""

    state: TaskState
    cancel_requested: bool


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
        self._write = redis.register_script(WRITE)
        self._take_over = redis.register_script(TAKE_OVER)
        self._put = redis.register_script(PUT)
        self._admission = redis.register_script(ADMISSION)
        self._untake = redis.register_script(UNTAKE)
        self._end = redis.register_script(END)

    def key(self, task_id: str) -> str:
        return task_key(self._prefix, task_id)

    async def _fenced(
        self, task_id: str, writer: str, fields: dict[str, Any], retention_s: float | None
    ) -> bool:
        pairs: list[Any] = [item for pair in fields.items() for item in pair]
        retention = "" if retention_s is None else max(1, round(retention_s))
        return bool(await self._write(keys=[self.key(task_id)], args=[writer, retention, *pairs]))

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
        """The record of a task about to be queued: from then on any instance can run, read and cancel it."""
        fields: dict[str, str | bytes | int] = {
            "tenant": spec.tenant,
            "fp": spec.fingerprint.hex() if spec.fingerprint is not None else "",
            "spec": codec.encode_spec(spec),
            "queued": encode_queued(queued),
            "seed": seed,
            "admission": codec.encode_admission(admission),
            "admitted_at": repr(admitted_at),
            "state": TaskState.QUEUED.value,
        }
        await self._put(
            keys=[self.key(spec.task_id)], args=[item for pair in fields.items() for item in pair]
        )

    async def admitted(self, admission: Admission) -> None:
        """The admission answered for a task already recorded (`put`); nothing else of the record changes,
        since another instance may be running the task by now."""
        await self._admission(keys=[self.key(admission.task_id)], args=[codec.encode_admission(admission)])

    async def flags(self, task_id: str) -> Flags | None:
        """The record's state and cancel flag, or None when no instance knows the task any more."""
        answer: Any = await self._redis.hmget(self.key(task_id), ["state", "cancel"])
        state, cancel = answer
        if not state or state == b"admitting":  # gone, or its admission never completed
            return None
        return Flags(TaskState(bytes(state).decode()), bool(cancel))

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

    async def running(self, task_id: str, owner: str, started_at: float, identity: ReplayIdentity) -> bool:
        """`owner` runs the task now, placed with `identity`; False: fenced (ORCH-4112)."""
        fields = {
            "state": TaskState.RUNNING.value,
            "owner": owner,
            "started_at": repr(started_at),
            "identity": orjson.dumps(identity),
        }
        return await self._fenced(task_id, owner, fields, None)

    async def take_over(self, task_id: str, dead: str, instance_id: str) -> bool:
        """`instance_id` owns the task of the dead instance `dead` from now on; False when it ended or
        another instance took it over first."""
        return bool(await self._take_over(keys=[self.key(task_id)], args=[dead, instance_id]))

    async def request_cancel(self, task_id: str) -> None:
        """Marks the task canceled-on-request, for the instance that takes it from a queue next."""
        await self._request_cancel(keys=[self.key(task_id)])

    async def requeued(self, task_id: str, owner: str) -> bool:
        """The task is back in its queue, owned by nobody until it is dispatched again; False: fenced."""
        return await self._fenced(task_id, owner, {"state": TaskState.QUEUED.value, "owner": ""}, None)

    async def ended(
        self,
        task_id: str,
        state: TaskState,
        *,
        writer: str,
        pool_id: str,
        ended_at: float,
        first_token_at: float | None,
        tokens_in: int | None,
        retention_s: float,
        last: Chunk | None = None,
    ) -> bool:
        """The task reached `state`, with `last`, what its transcript gained since the last stream entry;
        its record and stream are kept for `retention_s` and its pool's queue forgets it as taken. False:
        fenced (another instance ended it or took it over)."""
        fields: dict[str, Any] = {"state": state.value, "ended_at": repr(ended_at), "owner": ""}
        if first_token_at is not None:
            fields["first_token_at"] = repr(first_token_at)
        if tokens_in is not None:
            fields["tokens_in"] = tokens_in
        entry = codec.encode_chunk(last) if last is not None else {}
        args: list[Any] = [writer, max(1, round(retention_s)), len(entry)]
        args += [item for pair in entry.items() for item in pair]
        args += [item for pair in fields.items() for item in pair]
        keys = [self.key(task_id), stream_key(self._prefix, task_id)]
        written = bool(await self._end(keys=keys, args=args))
        # Only once the record says ended: an instance that dies before leaves the reaper the task.
        await self._untake(keys=list(taken_keys(self._prefix, pool_id)), args=[task_id])
        return written
