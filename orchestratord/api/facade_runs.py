"""How a request of a foreign API (OpenAI, Anthropic) runs as a task: admitted like `POST /v1/tasks`, then
relayed as that API's stream or collected into its one answer; a client that leaves cancels the task at
once, since these protocols have no resume (ORCH-1065).

Each API brings only its rendering: a writer from transcript batches to its SSE frames, its heartbeat
frame, and a body built from the finished task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import Receive

from http_edge.correlation import correlation_id

from ..http.rejections import admission_runs
from ..http.sse_response import OpenStreams, SSEResponse, client_left
from ..services.task_events import Ended, Failed, Started
from ..services.task_registry import TaskRecord
from ..services.task_spec import TaskSpec
from ..services.tasks import TaskService
from ..services.transcript import TextBatch

TASK_ID_HEADER = "X-Orch-Task-Id"
DISCONNECT_REASON = "client disconnected"


@dataclass(frozen=True, slots=True)
class Answer:
    """A finished task as a whole answer: its text, its end and the replica set that ran it."""

    text: str
    end: Ended
    started: Started | None


class FacadeRuns:
    """Admits, streams and collects the tasks of the foreign-API routes."""

    def __init__(self, tasks: TaskService, streams: OpenStreams, heartbeat_s: float) -> None:
        self._tasks = tasks
        self._streams = streams
        self.heartbeat_s = heartbeat_s

    async def admit(self, spec: TaskSpec, request: Request) -> TaskRecord:
        """Admission refusals raise before any byte is sent, so they keep their status and headers."""
        admission_runs(request.scope)
        admission = await self._tasks.submit(spec, correlation_id(request.scope))
        return await self._tasks.get(admission.task_id, spec.tenant)

    def stream(
        self, record: TaskRecord, write: Callable[[TextBatch], bytes], heartbeat: bytes
    ) -> SSEResponse:
        """The API's frames for each batch, `heartbeat` while the task has nothing to send."""
        return SSEResponse(
            self._frames(record, write, heartbeat), self._streams, {TASK_ID_HEADER: record.task_id}
        )

    async def _frames(
        self, record: TaskRecord, write: Callable[[TextBatch], bytes], heartbeat: bytes
    ) -> AsyncGenerator[bytes, None]:
        try:
            async for batch in self._tasks.follow_text(record, heartbeat_s=self.heartbeat_s):
                chunk = heartbeat if batch is None else write(batch)
                if chunk:
                    yield chunk
        finally:
            if not record.state.terminal:
                await self._tasks.cancel_record(record, reason=DISCONNECT_REASON)

    async def collect(self, record: TaskRecord, receive: Receive) -> Answer:
        """The whole answer once the task ended; raises the typed error of a failed task."""
        result = asyncio.ensure_future(_ended(record))
        gone = asyncio.ensure_future(client_left(receive))
        try:
            await asyncio.wait((result, gone), return_when=asyncio.FIRST_COMPLETED)
            if not result.done():
                # Canceling ends the transcript, so `result` completes right after.
                await self._tasks.cancel_record(record, reason=DISCONNECT_REASON)
            await result
        finally:
            gone.cancel()
            if not result.done():
                result.cancel()
                await self._tasks.cancel_record(record, reason=DISCONNECT_REASON)
        outcome = record.transcript.outcome
        if isinstance(outcome, Failed):
            raise outcome.error
        assert outcome is not None  # `_ended` returns once the transcript is closed
        return Answer(record.transcript.text(), outcome, record.transcript.started_event)


async def _ended(record: TaskRecord) -> None:
    """Returns once the task's transcript holds its terminal event (a reader of it meanwhile)."""
    async for _batch in record.transcript.follow_text():
        pass
