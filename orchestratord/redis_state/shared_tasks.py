"""What one orchestratord instance does so that every instance sharing its Redis sees the same tasks
(ORCH-4106..4109): a task admitted anywhere can be run, read, resumed and cancelled through any instance.

Each instance keeps `TaskRecord`s as before; Redis holds the record every instance agrees on and each
task's transcript stream. A local record is the authority while this instance runs the task or after it
ended it here; any other local record (one admitted here and queued, or a copy of a task run elsewhere) is
brought up to date from Redis when it is looked up, and its transcript follows the task's stream.

- admission: `claim` a client task_id cluster-wide, `pending` before the enqueue (so whichever instance
  pops the task finds its record), `admitted` after it, `forget` on a refusal;
- dispatch: `adopt` a popped task (the local record, or a copy built from Redis, caught up with the stream
  of an earlier attempt), `dispatched` starts writing its transcript in batches;
- reading: `lookup` answers the freshest record and starts following the stream of a task run elsewhere;
- ending: the terminal hook `ended` writes what is left and the final state; `hand_on` before a requeue;
- cancel: `request_cancel` reaches the running instance through the cancel channel, which `listen` serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from orchestrator_core.errors import Backpressure, OrchError, StateUnavailable, WorkerReset
from orchestrator_core.task import QueuedTask
from orchestratord.services.behind import OUTAGE_WRITE_S, RETRY_S, WriteBehind, retried
from orchestratord.services.lifecycle import TaskLifecycle
from orchestratord.services.state import TaskStore
from orchestratord.services.task_registry import Admission, TaskRecord
from orchestratord.services.task_spec import TaskSpec, TaskState
from orchestratord.services.transcript import Chunk, Cursor

from .streams import START, RedisTranscripts
from .tasks import RedisTaskTable, SharedRecord

logger = logging.getLogger(__name__)
Clock = Callable[[], float]
FOLLOW_BLOCK_MS = 1_000
CLOSE_WRITES_S = 5.0  # how long an exiting instance waits for its last writes while Redis is away


def entry_order(entry_id: bytes) -> tuple[int, int]:
    """A stream entry id (`<ms>-<seq>`) as a number pair, ordered as Redis orders the entries."""
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True, slots=True)
class Synced:
    """How much of a task's transcript this instance's copy shares with the stream in Redis."""

    cursor: Cursor = field(default_factory=Cursor)
    entry_id: bytes = START


@dataclass(frozen=True, slots=True)
class SharingSettings:
    instance_id: str
    flush_s: float
    retention_s: float


class SharedTasks:
    """This instance's side of the shared task records and transcripts."""

    def __init__(
        self,
        *,
        table: RedisTaskTable,
        transcripts: RedisTranscripts,
        registry: TaskStore,
        lifecycle: TaskLifecycle,
        settings: SharingSettings,
    ) -> None:
        self._table = table
        self._transcripts = transcripts
        self._registry = registry
        self._lifecycle = lifecycle
        self._settings = settings
        self._here: set[str] = set()  # tasks this instance runs or ended: their local record is the truth
        self._synced: dict[str, Synced] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._followers: dict[str, asyncio.Task[None]] = {}
        self.behind = WriteBehind()

    @property
    def instance_id(self) -> str:
        return self._settings.instance_id

    # admission

    async def claim(self, spec: TaskSpec) -> Admission | None:
        """The earlier admission of an identical submission on any instance; claims a new client id."""
        return await self._table.claim(spec) if spec.client_task_id else None

    async def pending(self, spec: TaskSpec, task: QueuedTask, seed: int, admitted_at: float) -> None:
        """Writes the record before the task is queued: an instance that pops it must find it."""
        provisional = Admission(spec.task_id, 0, 0, 0, task.pool_id)
        await self._table.put(spec, task, seed, provisional, admitted_at)

    async def admitted(self, record: TaskRecord) -> None:
        """The admission's answer (position, prediction), for an identical submission through any instance."""
        await self._table.admitted(record.admission)

    async def forget(self, task_id: str) -> None:
        """A refused admission leaves nothing behind (its client id may be used again)."""
        await self._table.forget(task_id)

    # dispatch

    async def adopt(self, task: QueuedTask) -> TaskRecord | None:
        """The record of a task this instance just took from a shared queue, ready to be placed; None when
        no instance knows the task any more (it stays out of the queue)."""
        task_id = task.task_id
        synced = self._synced.get(task_id, Synced())
        streamed = self._transcripts.read(task_id, synced.entry_id, block_ms=None)
        # The record (only whether it lives and a cancel flag, when this instance has a copy) and what
        # an earlier attempt streamed, asked in one write.
        record = self._registry.find(task_id)
        if record is not None:
            flags, entries = await asyncio.gather(self._table.flags(task_id), streamed)
            if flags is None:
                return record
            cancel_requested = flags.cancel_requested
        else:
            shared, entries = await asyncio.gather(self._table.load(task_id), streamed)
            record = self._registry.find(task_id)  # again after the wait: one record per task
            if shared is None:
                return record
            if record is None:
                record = self._copy(shared)
                self._registry.add(record)
            cancel_requested = shared.cancel_requested
        # From here on a cancel asked of any instance finds this one (`listen`), or found the flag.
        self._here.add(task_id)
        self._stop_following(task_id)
        await self._apply(record, entries, synced)
        if cancel_requested:
            self._lifecycle.canceled(record)
        return record

    def put_back(self, task_id: str) -> None:
        """An adopted task could not start yet and goes back to its queue: another instance may take it,
        so the readers here follow its stream again."""
        self._here.discard(task_id)
        record = self._registry.find(task_id)
        if record is not None:
            self._follow_if_read(record)

    def dispatched(self, record: TaskRecord) -> None:
        """This instance runs the task from now on: its transcript is written to Redis in batches."""
        task_id = record.task_id
        self._here.add(task_id)
        identity, started_at = record.identity, record.started_at
        assert identity is not None and started_at is not None  # set by TaskLifecycle.dispatched
        self.behind.submit_retrying(
            lambda: self._table.running(task_id, self.instance_id, started_at, identity), for_s=OUTAGE_WRITE_S
        )
        if task_id not in self._writers:
            writer = asyncio.get_running_loop().create_task(self._write(record), name=f"share-{task_id}")
            self._writers[task_id] = writer
            writer.add_done_callback(lambda _: self._writers.pop(task_id, None))

    async def hand_on(self, record: TaskRecord) -> None:
        """The task goes back to its shared queue and any instance may run it next: what it streamed here
        is written first, so the next instance continues the same transcript."""
        self._here.discard(record.task_id)
        writer = self._writers.get(record.task_id)
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        await self._flush(record)
        await self._table.requeued(record.task_id, self.instance_id)
        self._follow_if_read(record)

    def ended(self, record: TaskRecord) -> None:
        """Terminal hook: a task that ended here has its last events and state written (by its writer
        when it has one)."""
        task_id = record.task_id
        self._here.add(task_id)
        self._stop_following(task_id)
        if task_id not in self._writers:
            self.behind.submit(self._finish(record))

    async def _write(self, record: TaskRecord) -> None:
        transcript = record.transcript
        try:
            while not transcript.closed:
                await transcript.appended()
                if not transcript.closed:
                    await asyncio.sleep(self._settings.flush_s)  # let a burst gather into one entry
                try:
                    await self._flush(record)
                except StateUnavailable:  # Redis away: what is unwritten goes with the next write
                    await asyncio.sleep(RETRY_S)
        finally:
            if transcript.closed:
                self.behind.submit(self._finish(record))

    async def _flush(self, record: TaskRecord) -> None:
        task_id = record.task_id
        synced = self._synced.get(task_id, Synced())
        chunk = record.transcript.chunk_since(synced.cursor)
        if chunk is None:
            return
        cursor = record.transcript.cursor()
        retention = self._settings.retention_s if chunk.outcome is not None else None
        entry_id = await self._transcripts.append(
            task_id, chunk, writer=self.instance_id, retention_s=retention
        )
        if entry_id is None:  # fenced: another instance took the task over; this copy's events are void
            logger.warning("task %s was taken over by another instance; its events here are dropped", task_id)
            entry_id = synced.entry_id
        self._synced[task_id] = Synced(cursor, entry_id)

    async def _finish(self, record: TaskRecord) -> None:
        """Writes the task's last events and final state, through an outage of Redis if need be."""
        try:
            await retried(lambda: self._write_end(record), for_s=OUTAGE_WRITE_S)
        except Exception:  # a bug, not an outage: the readers elsewhere miss the end
            logger.exception("writing the end of task %s failed", record.task_id)
        finally:
            self._synced.pop(record.task_id, None)
            self._here.discard(record.task_id)  # a terminal local record is the truth by itself

    async def _write_end(self, record: TaskRecord) -> None:
        """What the transcript gained since its last entry and the final state, in one script call."""
        assert record.ended_at is not None
        synced = self._synced.get(record.task_id, Synced())
        written = await self._table.ended(
            record.task_id,
            record.state,
            writer=self.instance_id,
            pool_id=record.queued.pool_id,
            ended_at=record.ended_at,
            first_token_at=record.first_token_at,
            tokens_in=record.tokens_in,
            retention_s=self._settings.retention_s,
            last=record.transcript.chunk_since(synced.cursor),
        )
        if not written:
            logger.warning(
                "task %s was taken over by another instance; its end here is dropped", record.task_id
            )

    # a dead instance's tasks

    async def reclaim(
        self, task: QueuedTask, dead: str, requeue: Callable[[QueuedTask], Awaitable[Any]]
    ) -> bool:
        """A task the dead instance `dead` had taken from its queue (ORCH-4112): one it had not started
        goes back to the queue head (`requeue`), one it ran ends here with WORKER_RESET, its last events
        written to its stream for the readers of every instance. False when it had ended already."""
        task_id = task.task_id
        shared = await self._table.load(task_id)
        if shared is None or shared.state.terminal:
            return False
        if not await self._table.take_over(task_id, dead, self.instance_id):
            return False
        unstarted = shared.state is TaskState.QUEUED
        error: OrchError
        if unstarted and not await self._transcripts.read(task_id, START, block_ms=None):
            await self._table.requeued(task_id, self.instance_id)
            try:
                await requeue(task)
                return True
            except Backpressure as refusal:  # its queue filled up meanwhile: it ends with the refusal
                error = refusal
        else:
            error = WorkerReset(
                f"the orchestratord instance running the task stopped ({dead})", pool_id=task.pool_id
            )
        record = self._registry.find(task_id)
        if record is None:
            record = self._copy(shared)
            self._registry.add(record)
        self._stop_following(task_id)
        self._here.add(task_id)
        await self._catch_up(record)
        if not record.state.terminal:
            self._lifecycle.failed(record, error)
        return True

    # reading

    def runs_here(self, record: TaskRecord) -> bool:
        return record.task_id in self._here

    async def lookup(self, task_id: str, *, fresh: bool = True) -> TaskRecord | None:
        """The freshest record of `task_id`, from this instance or from Redis; None when nobody knows it.
        Not `fresh` (a stream is about to be read): a record this instance has is answered as it is,
        since its reader makes it follow the task's stream (`watch`), which brings what happened since."""
        record = self._registry.find(task_id)
        if record is not None and (task_id in self._here or record.state.terminal or not fresh):
            return record
        shared = await self._table.load(task_id)
        # Again after the wait: this instance may have adopted the task meanwhile; one record per task.
        record = self._registry.find(task_id)
        if shared is None or (record is not None and (task_id in self._here or record.state.terminal)):
            return record
        if record is None:
            record = self._copy(shared)
            self._registry.add(record)
        else:
            self._observe(record, shared)
        if shared.state is not TaskState.QUEUED:
            await self._catch_up(record)
        return record

    def watch(self, record: TaskRecord) -> None:
        """A reader attached to `record`: unless this instance runs the task, its transcript follows the
        stream that whichever instance runs it writes (from the first entry this copy has not seen)."""
        if record.task_id not in self._here and not record.state.terminal:
            self._follow(record)

    def _copy(self, shared: SharedRecord) -> TaskRecord:
        record = self._lifecycle.replicated(
            shared.spec, shared.queued, shared.seed, shared.admission, shared.admitted_at
        )
        self._observe(record, shared)
        return record

    def _observe(self, record: TaskRecord, shared: SharedRecord) -> None:
        # The terminal state comes with the transcript's last event, so outcome and state agree.
        state = TaskState.RUNNING if shared.state.terminal else shared.state
        self._lifecycle.observed(
            record,
            state,
            identity=shared.identity,
            started_at=shared.started_at,
            first_token_at=shared.first_token_at,
            tokens_in=shared.tokens_in,
        )

    async def _catch_up(self, record: TaskRecord) -> None:
        """Extends the local transcript with every entry of the stream it has not seen yet."""
        await self._read(record, block_ms=None)

    async def _read(self, record: TaskRecord, block_ms: int | None, *, following: bool = False) -> None:
        task_id = record.task_id
        synced = self._synced.get(task_id, Synced())
        entries = await self._transcripts.read(task_id, synced.entry_id, block_ms=block_ms)
        if following and self._followers.get(task_id) is not asyncio.current_task():
            return  # stopped while it waited: this instance runs the task now, or another follower reads
        await self._apply(record, entries, synced)

    async def _apply(self, record: TaskRecord, entries: list[tuple[bytes, Chunk]], synced: Synced) -> None:
        """Extends the local transcript with `entries`, read after `synced`; at the outcome the record
        takes the final state Redis holds."""
        task_id = record.task_id
        # Another read from the same entry may have been applied meanwhile: a chunk is applied once.
        applied = entry_order(self._synced.get(task_id, synced).entry_id)
        entries = [entry for entry in entries if entry_order(entry[0]) > applied]
        if not entries:
            return
        transcript = record.transcript
        for _, chunk in entries:
            transcript.extend(chunk)
        self._synced[task_id] = Synced(transcript.cursor(), entries[-1][0])
        outcome = transcript.outcome
        if outcome is not None and not record.state.terminal:
            shared = await self._table.load(task_id)
            self._lifecycle.observed(
                record,
                shared.state if shared is not None else TaskState.FAILED,
                ended_at=shared.ended_at if shared is not None else None,
                first_token_at=shared.first_token_at if shared is not None else None,
                tokens_in=shared.tokens_in if shared is not None else None,
            )
            self._synced.pop(task_id, None)
            self._registry.retain(record)

    def _follow_if_read(self, record: TaskRecord) -> None:
        """A task handed on to the shared queue: its readers here follow whichever instance runs it next."""
        if record.transcript.readers:
            self._follow(record)

    def _follow(self, record: TaskRecord) -> None:
        task_id = record.task_id
        if record.transcript.closed or task_id in self._followers:
            return
        follower = asyncio.get_running_loop().create_task(
            self._follow_stream(record), name=f"follow-{task_id}"
        )
        self._followers[task_id] = follower
        follower.add_done_callback(partial(self._followed, task_id))

    def _followed(self, task_id: str, follower: asyncio.Task[None]) -> None:
        if self._followers.get(task_id) is follower:  # a newer follower of the task stays
            del self._followers[task_id]

    async def _follow_stream(self, record: TaskRecord) -> None:
        me = asyncio.current_task()
        while not record.transcript.closed and self._followers.get(record.task_id) is me:
            try:
                await self._read(record, block_ms=FOLLOW_BLOCK_MS, following=True)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: try again; the readers wait with their heartbeats
                logger.warning("following task %s failed", record.task_id, exc_info=True)
                await asyncio.sleep(FOLLOW_BLOCK_MS / 1000)

    def _stop_following(self, task_id: str) -> None:
        """The follower stops once its blocking read returns (with the next entry, at the latest after
        FOLLOW_BLOCK_MS), and its answer is dropped. It is not canceled: redis-py drops the connection of
        a canceled read, and opening a new one cost about a connection per task in the relay benchmark."""
        self._followers.pop(task_id, None)

    # cancel

    async def request_cancel(self, task_id: str) -> None:
        """Asks the instance that took `task_id` from its queue to cancel it."""
        await self._table.request_cancel(task_id)
        await self._transcripts.request_cancel(task_id)

    async def listen(self, cancel: Callable[[TaskRecord], Awaitable[Any]]) -> None:
        """Serves the cancel channel until canceled: a task this instance runs is canceled with `cancel`."""
        while True:
            try:
                async for task_id in self._transcripts.cancel_requests():
                    record = self._registry.find(task_id)
                    if record is not None and task_id in self._here and not record.state.terminal:
                        await cancel(record)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: subscribe again once it is back
                logger.warning("the cancel channel failed", exc_info=True)
                await asyncio.sleep(FOLLOW_BLOCK_MS / 1000)

    async def aclose(self) -> None:
        """Stops following; the writes already asked for are completed."""
        for follower in list(self._followers.values()):
            follower.cancel()
        writers = list(self._writers.values())
        if writers:
            await asyncio.wait(writers, timeout=self._settings.flush_s + 1.0)
        await self.behind.flush(CLOSE_WRITES_S)
