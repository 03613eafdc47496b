"""Drives one placed task through its replica's adapter stream and publishes what happens (ORCH-4001..4003).

The slot lease is released in `finally`, whatever ends the run: success, a typed failure, an unexpected
error, or cancellation (which closes the adapter stream and with it the upstream connection, ORCH-1031).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from orchestrator_core.errors import DecodeTimeout, Internal, InvalidParams, OrchError, WorkerReset
from worker_adapters.types import FinalEvent, GenerateRequest

from .lifecycle import TaskLifecycle
from .replicas import Replica, ReplicaRegistry
from .requeue import Requeuer
from .state import SessionState, SharedSessionState
from .task_registry import TaskRecord
from .task_spec import TaskState

Clock = Callable[[], float]
METRICS_EVERY_TOKENS = 64
WATCHDOG_SLACK = 0.1


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Per-run limits: the longest silence between two engine events before DECODE_TIMEOUT."""

    idle_timeout_s: float = 30.0


def generate_request(record: TaskRecord) -> GenerateRequest:
    """The adapter request of a task: every sampling field explicit (ORCH-3502, ORCH-7006)."""
    spec = record.spec
    return GenerateRequest(
        max_tokens=spec.max_tokens,
        seed=record.seed,
        workload=spec.workload,
        prompt=spec.prompt,
        messages=spec.messages,
        temperature=0.0 if spec.temperature is None else spec.temperature,
        top_p=1.0 if spec.top_p is None else spec.top_p,
        top_k=0 if spec.top_k is None else spec.top_k,
        stop=spec.stop,
        determinism=spec.determinism,
        tools=spec.tools,
        tool_choice=spec.tool_choice,
        parallel_tool_calls=spec.parallel_tool_calls,
        response_format=spec.response_format,
        presence_penalty=spec.presence_penalty or 0.0,
        frequency_penalty=spec.frequency_penalty or 0.0,
        logit_bias=spec.logit_bias,
        inputs=spec.inputs,
    )


class TaskRunner:
    """Runs placed tasks; one instance serves all of them."""

    def __init__(
        self,
        *,
        clock: Clock,
        settings: RunSettings,
        replicas: ReplicaRegistry,
        sessions: SessionState,
        lifecycle: TaskLifecycle,
        requeuer: Requeuer,
        queue_depth: Callable[[str], int],
        shared_sessions: SharedSessionState | None = None,
    ) -> None:
        self._clock = clock
        self._shared_sessions = shared_sessions
        self._settings = settings
        self._replicas = replicas
        self._sessions = sessions
        self._lifecycle = lifecycle
        self._requeuer = requeuer
        self._queue_depth = queue_depth

    async def run(self, record: TaskRecord, replica: Replica, lease_id: str) -> None:
        """Streams the task on `replica`; never raises except CancelledError (the TaskGroup stays intact)."""
        try:
            await self._stream(record, replica)
        except OrchError as error:
            await self._on_failure(record, replica, error)
        except TimeoutError:
            idle = self._settings.idle_timeout_s
            await self._on_failure(
                record, replica, DecodeTimeout(f"no engine event for {idle:g} s", engine=replica.spec.engine)
            )
        except asyncio.CancelledError:
            if not record.state.terminal:
                self._lifecycle.canceled(record)
            raise
        except Exception as error:  # an adapter bug must end the task, not the dispatcher
            await self._on_failure(record, replica, Internal(f"{type(error).__name__} while streaming"))
        finally:
            self._replicas.release(lease_id)
            self._observe(record, replica)

    async def _stream(self, record: TaskRecord, replica: Replica) -> None:
        loop = asyncio.get_running_loop()
        idle = self._settings.idle_timeout_s
        # The watchdog is pushed back only when a tenth of the idle time has passed since it was last set,
        # not for every token; its deadline carries that tenth, so it never fires before `idle` of silence.
        slack = idle * WATCHDOG_SLACK
        armed_at = loop.time()
        started = False
        stream = replica.adapter.stream(generate_request(record))
        async with contextlib.aclosing(stream), asyncio.timeout_at(armed_at + idle + slack) as watchdog:
            async for event in stream:
                now = loop.time()
                if now - armed_at >= slack:
                    armed_at = now
                    watchdog.reschedule(now + idle + slack)
                if record.state.terminal:
                    return
                if not started:
                    # `started` is sent with the first engine event, so a replica that fails before any
                    # token can be replaced without the client ever seeing it (ORCH-4002).
                    self._start(record, replica)
                    started = True
                    if isinstance(event, FinalEvent):
                        self._lifecycle.log_started(record)
                if isinstance(event, FinalEvent):
                    self._lifecycle.succeeded(record, event, self._queue_depth(replica.pool_id))
                    return
                self._lifecycle.token(record, event.text, event.index)
                if event.index == 0:
                    await self._flush_first_token(record)
                if event.index % METRICS_EVERY_TOKENS == METRICS_EVERY_TOKENS - 1:
                    self._lifecycle.progress(record, self._queue_depth(replica.pool_id))
        if not record.state.terminal:
            self._lifecycle.failed(record, WorkerReset("the engine stream ended without a final event"))

    async def _flush_first_token(self, record: TaskRecord) -> None:
        """Lets waiting readers write `started` and the first token before the rest of the burst.

        The adapter hands over every token of a received chunk without awaiting, so without this one
        pause the readers would only run once the whole burst is in the transcript (ORCH-4007,
        ORCH-9204); later tokens are batched as they come. The start is logged after it, off the path.
        """
        await asyncio.sleep(0)
        self._lifecycle.log_started(record)

    def _start(self, record: TaskRecord, replica: Replica) -> None:
        kv_warmth = False
        view = self._replicas.view(replica)
        session_id = record.spec.session_id
        if session_id is not None:
            place = partial(self._sessions.record_placement, session_id, replica.replica_id, view.identity)
            kv_warmth = place()
            if self._shared_sessions is not None:  # made again to the session's latest state
                self._shared_sessions.changed(session_id, place)
        self._lifecycle.started(record, replica, kv_warmth, self._queue_depth(replica.pool_id))

    async def _on_failure(self, record: TaskRecord, replica: Replica, error: OrchError) -> None:
        if record.state.terminal:
            return
        delivered = record.transcript.tokens > 0 or record.transcript.started
        if not delivered and error.is_retriable and not isinstance(error, InvalidParams):
            if await self._requeuer.requeue(record, replica.replica_id, error):
                return
        self._lifecycle.failed(record, error)

    def _observe(self, record: TaskRecord, replica: Replica) -> None:
        if record.state is not TaskState.SUCCEEDED or record.started_at is None:
            return
        ended = record.ended_at or self._clock()
        first = record.first_token_at
        first_token_ms = (first - record.started_at) * 1000 if first is not None else 0.0
        decode_ms = (ended - first) * 1000 if first is not None else 0.0
        self._replicas.observe(
            replica.replica_id,
            tokens_out=record.tokens_out,
            decode_ms=decode_ms,
            first_token_ms=first_token_ms,
        )
