"""The OrchQueue v1 HTTP calls the release gates make: submit, follow the SSE stream, status, metrics.

Only the public contract is used (`POST /v1/tasks`, `GET /v1/tasks/{id}/stream`, `GET /v1/tasks/{id}`,
`GET /metrics`), so the gates prove the product as a client sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from httpx_sse import aconnect_sse, connect_sse
from prometheus_client.parser import text_string_to_metric_families


class GateHttpError(RuntimeError):
    """An OrchQueue call answered something the gate cannot continue from (status and body included)."""


@dataclass
class TaskRun:
    """One task as a client saw it: the stream's events in order and the status after the end."""

    task_id: str
    started: dict[str, Any] | None = None
    tokens: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    end: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The generated text: the token texts joined, exactly as streamed."""
        return "".join(self.tokens)

    def record(self, event: str, data: str) -> None:
        """Take one SSE event (metrics events carry nothing the gates check)."""
        if event == "started":
            self.started = _object(data)
        elif event == "token":
            payload = _object(data)
            self.tokens.append(str(payload["t"]))
            self.indices.append(int(payload["i"]))
        elif event == "end":
            self.end = _object(data)
        elif event == "error":
            self.error = _object(data)


def _object(data: str) -> dict[str, Any]:
    payload = orjson.loads(data)
    if not isinstance(payload, dict):
        raise GateHttpError(f"SSE payload is not an object: {data!r}")
    return payload


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The Authorization header for an API key, if any."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _admitted(response: httpx.Response) -> tuple[str, str]:
    if response.status_code != 202:
        raise GateHttpError(f"POST /v1/tasks answered {response.status_code}: {response.text}")
    admission = response.json()
    return str(admission["task_id"]), str(admission["streams"]["sse"])


def _status(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise GateHttpError(
            f"GET {response.request.url.path} answered {response.status_code}: {response.text}"
        )
    payload = response.json()
    if not isinstance(payload, dict):
        raise GateHttpError(f"task status is not an object: {response.text}")
    return payload


def run_task(client: httpx.Client, body: dict[str, Any]) -> TaskRun:
    """Submit a task, read its stream to the terminal event, then fetch its status."""
    task_id, stream_path = _admitted(client.post("/v1/tasks", json=body))
    run = TaskRun(task_id=task_id)
    with connect_sse(client, "GET", stream_path) as source:
        for event in source.iter_sse():
            run.record(event.event, event.data)
    run.status = _status(client.get(f"/v1/tasks/{task_id}"))
    return run


async def run_task_async(client: httpx.AsyncClient, body: dict[str, Any]) -> TaskRun:
    """`run_task` for concurrent callers."""
    task_id, stream_path = _admitted(await client.post("/v1/tasks", json=body))
    run = TaskRun(task_id=task_id)
    async with aconnect_sse(client, "GET", stream_path) as source:
        async for event in source.aiter_sse():
            run.record(event.event, event.data)
    run.status = _status(await client.get(f"/v1/tasks/{task_id}"))
    return run


def counter_total(client: httpx.Client, name: str) -> float:
    """The sum over all series of counter `name` (e.g. `orchd_output_tokens_total`) in GET /metrics."""
    response = client.get("/metrics")
    if response.status_code != 200:
        raise GateHttpError(f"GET /metrics answered {response.status_code}: {response.text}")
    family_name = name.removesuffix("_total")
    total = 0.0
    found = False
    for family in text_string_to_metric_families(response.text):
        if family.name != family_name:
            continue
        found = True
        total += sum(sample.value for sample in family.samples if sample.name == name)
    if not found:
        raise GateHttpError(f"GET /metrics has no {name} family")
    return total
