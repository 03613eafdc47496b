"""Pact consumer tests: what the SDK (`tools.openapi_client.Client`, used by the `llorch` CLI) needs from
orchestratord, recorded as a V4 pact `contracts/pacts/llorch-cli-orchestratord.json` (ORCH-9013).

Each test declares one interaction, runs the real SDK call against Pact's mock server, and checks what the
SDK made of the answer. The interactions are merged into a scratch directory and the committed pact file
is replaced only when every interaction of `INTERACTIONS` was recorded, so a failing test never leaves a
partial contract behind. SSE streams are not expressible in Pact; tests/orchestratord covers them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pact import Pact, match

from orchestrator_core.errors import AdmissionReject, NotFound
from tests.contract.pact_terms import (
    BUSY_MODEL,
    CONSUMER,
    FINISHED_TASK,
    INTERACTIONS,
    MODEL,
    PACT_DIR,
    PACT_FILE,
    POOL,
    PROVIDER,
    RUNNING_TASK,
    SESSION,
    STATE_FINISHED,
    STATE_NO_TASK,
    STATE_QUEUE_FULL,
    STATE_RUNNING,
    STATE_SERVES,
    STATE_SESSION,
    UNKNOWN_TASK,
)
from tools.openapi_client import Client, RetryPolicy, envelope_of

pytestmark = pytest.mark.req("ORCH-9013")

JSON = "application/json"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ENGINE_RE = r"^(llamacpp|vllm|tgi|triton)$"
DIGEST_RE = r"^sha256:[0-9a-f]{64}$"
EXAMPLE_DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Scratch directory the interactions are merged into; published when all of them are present."""
    scratch = tmp_path_factory.mktemp("pacts")
    yield scratch
    merged = scratch / PACT_FILE.name
    if not merged.exists():
        return
    descriptions = {i["description"] for i in json.loads(merged.read_text())["interactions"]}
    if descriptions == INTERACTIONS:
        PACT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(merged, PACT_FILE)


@pytest.fixture
def pact(recorded: Path) -> Iterator[Pact]:
    contract = Pact(CONSUMER, PROVIDER).with_specification("V4")
    yield contract
    contract.write_file(recorded, overwrite=False)


def sdk(url: str) -> Client:
    """The SDK as the CLI builds it, without retries so each interaction is one exchange."""
    return Client(url, api_key="", retry=RetryPolicy(attempts=1, stream_reconnects=0))


def envelope(code: str, *, retriable: bool, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "message": match.string("what went wrong and what to do"),
        "retriable": retriable,
        "correlation_id": match.string("5b1f0c1e-8a4e-4b7b-9a36-2f3c0a9d1e7f"),
        **extra,
    }


def test_submit_answers_202_with_the_admission(pact: Pact) -> None:
    body = {"model_ref": MODEL, "prompt": "Write a haiku about queues.", "max_tokens": 16}
    (
        pact.upon_receiving("a request to submit a completion task")
        .given(STATE_SERVES)
        .with_request("POST", "/v1/tasks")
        # Only the fields the caller set: every default, determinism best_effort among them, is the
        # server's (ORCH-3506).
        .with_body(body, content_type=JSON)
        .will_respond_with(202)
        .with_body(
            {
                "task_id": match.regex(FINISHED_TASK, regex=UUID_RE),
                "queue_position": match.int(0),
                "predicted_start_ms": match.int(0),
                "backoff_ms": match.int(0),
                "streams": {
                    "sse": match.regex(
                        f"/v1/tasks/{FINISHED_TASK}/stream", regex=r"^/v1/tasks/[0-9a-f-]{36}/stream$"
                    ),
                    "sse_verbose": match.regex(
                        f"/v1/tasks/{FINISHED_TASK}/stream?verbose=true",
                        regex=r"^/v1/tasks/[0-9a-f-]{36}/stream\?verbose=true$",
                    ),
                },
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        admission = client.submit(body)
    assert str(admission.task_id) == FINISHED_TASK
    assert admission.streams.sse == f"/v1/tasks/{FINISHED_TASK}/stream"


def test_status_of_a_finished_task(pact: Pact) -> None:
    timings = {
        name: match.int(1_700_000_000_000)
        for name in ("admitted_at_ms", "started_at_ms", "first_token_at_ms", "ended_at_ms")
    }
    (
        pact.upon_receiving("a request for the status of a finished task")
        .given(STATE_FINISHED, task_id=FINISHED_TASK)
        .with_request("GET", f"/v1/tasks/{FINISHED_TASK}")
        .will_respond_with(200)
        .with_body(
            {
                "task_id": FINISHED_TASK,
                "state": "succeeded",
                "model_ref": MODEL,
                "priority": "interactive",
                "session_id": None,
                "queue_position": None,
                "tokens_in": match.int(6),
                "tokens_out": match.int(8),
                "stop_reason": "max_tokens",
                "error": None,
                "seed": match.int(12345),
                "timings": timings | {"queue_wait_ms": match.int(1), "decode_time_ms": match.int(40)},
                "replay": {
                    "seed": match.int(12345),
                    "sampler_profile_version": "v1",
                    "engine": match.regex("llamacpp", regex=ENGINE_RE),
                    "engine_version": match.string("b0-unknown"),
                    "model_digest": match.regex(EXAMPLE_DIGEST, regex=DIGEST_RE),
                    "pool_id": match.string(POOL),
                    "replica_id": match.string("pool-a-r0"),
                },
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        status = client.status(FINISHED_TASK)
    assert status.state == "succeeded" and status.stop_reason == "max_tokens"
    assert status.replay is not None and status.replay.model_digest == EXAMPLE_DIGEST


def test_cancel_answers_204(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to cancel a running task")
        .given(STATE_RUNNING, task_id=RUNNING_TASK)
        .with_request("POST", f"/v1/tasks/{RUNNING_TASK}/cancel")
        .will_respond_with(204)
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        assert client.cancel(RUNNING_TASK) is None


def test_unknown_task_answers_404_with_the_envelope(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the status of an unknown task")
        .given(STATE_NO_TASK, task_id=UNKNOWN_TASK)
        .with_request("GET", f"/v1/tasks/{UNKNOWN_TASK}")
        .will_respond_with(404)
        .with_body(envelope("NOT_FOUND", retriable=False), content_type=JSON)
    )
    with pact.serve() as server, sdk(str(server.url)) as client, pytest.raises(NotFound) as raised:
        client.status(UNKNOWN_TASK)
    found = envelope_of(raised.value)
    assert found is not None and found.code == "NOT_FOUND" and found.retriable is False


def test_capabilities(pact: Pact) -> None:
    limits = {
        name: match.int(value)
        for name, value in (
            ("body_max_bytes", 1_048_576),
            ("prompt_max_bytes", 65_536),
            ("max_tokens_max", 8_192),
            ("stop_max_count", 4),
            ("stop_max_chars", 64),
            ("messages_max_count", 256),
            ("header_value_max_bytes", 8_192),
        )
    }
    (
        pact.upon_receiving("a request for the capabilities")
        .given(STATE_SERVES)
        .with_request("GET", "/v1/capabilities")
        .will_respond_with(200)
        .with_body(
            {
                "api_version": "1.0.0",
                "engines": match.each_like(
                    {
                        "engine": match.regex("llamacpp", regex=ENGINE_RE),
                        "engine_version": match.string("b0-unknown"),
                        "determinism": match.regex("best_effort", regex=r"^(strict|best_effort)$"),
                        "ctx_max": match.int(4096),
                        "workloads": match.each_like(match.regex("completion", regex=r"^(completion|chat)$")),
                        "slots_total": match.int(2),
                        "max_tokens_out": match.int(4096),
                        "features": match.each_like(
                            match.regex("tools", regex=r"^(tools|response_format|penalties|logit_bias)$")
                        ),
                    }
                ),
                "limits": limits,
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        capabilities = client.capabilities()
    assert capabilities.api_version == "1.0.0" and capabilities.engines[0].ctx_max == 4096
    assert capabilities.engines[0].determinism == "best_effort"


def test_session_get(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a session")
        .given(STATE_SESSION, session_id=SESSION)
        .with_request("GET", f"/v1/sessions/{SESSION}")
        .will_respond_with(200)
        .with_body(
            {
                "session_id": SESSION,
                "ttl_ms_remaining": match.int(599_000),
                "turns": match.int(1),
                "max_turns": match.int(8),
                "kv_bytes": match.int(0),
                "kv_warmth": match.bool(True),
                "tokens_budget_remaining": None,
                "time_budget_remaining_ms": None,
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        session = client.session(SESSION)
    assert str(session.session_id) == SESSION and session.turns == 1


def test_session_delete_answers_204(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to delete a session")
        .given(STATE_SESSION, session_id=SESSION)
        .with_request("DELETE", f"/v1/sessions/{SESSION}")
        .will_respond_with(204)
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        assert client.delete_session(SESSION) is None


def test_pools_list(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the list of pools")
        .given(STATE_SERVES)
        .with_request("GET", "/v1/pools")
        .will_respond_with(200)
        .with_body(
            {
                "pools": match.each_like(
                    {
                        "pool_id": match.string(POOL),
                        "node_id": match.string("node-1"),
                        "engine": match.regex("llamacpp", regex=ENGINE_RE),
                        "model_ref": match.string(MODEL),
                        "live": match.bool(True),
                        "ready": match.bool(True),
                        "draining": match.bool(False),
                        "last_error": None,
                        "replicas_total": match.int(1),
                        "replicas_ready": match.int(1),
                        "slots_total": match.int(2),
                    }
                )
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        pools = client.pools()
    assert pools.pools[0].pool_id == POOL


def test_pool_health(pact: Pact) -> None:
    replica = {
        "replica_id": match.string("pool-a-r0"),
        "state": match.regex("ready", regex=r"^(starting|ready|unready|restarting|stopping|stopped|failed)$"),
        "ready": match.bool(True),
        "endpoint": match.regex("http://127.0.0.1:8081", regex=r"^https?://\S+$"),
        "engine": match.regex("llamacpp", regex=ENGINE_RE),
        "engine_version": match.string("b0-unknown"),
        "model_digest": match.regex(EXAMPLE_DIGEST, regex=DIGEST_RE),
        "slots_total": match.int(2),
        "port": match.int(8081),
        "restarts": match.int(0),
        "last_error": None,
    }
    (
        pact.upon_receiving("a request for the health of a pool")
        .given(STATE_SERVES)
        .with_request("GET", f"/v1/pools/{POOL}/health")
        .will_respond_with(200)
        .with_body(
            {
                "pool_id": POOL,
                "live": match.bool(True),
                "ready": match.bool(True),
                "draining": match.bool(False),
                "last_error": None,
                # pid and last_exit_code may be null (no process, no exit yet): present, any value.
                "replicas": match.each_like(replica | {"pid": None, "last_exit_code": None}),
            },
            content_type=JSON,
        )
    )
    with pact.serve() as server, sdk(str(server.url)) as client:
        health = client.pool_health(POOL)
    assert health.pool_id == POOL and health.replicas[0].port == 8081


def test_full_queue_answers_429_with_retry_headers(pact: Pact) -> None:
    body = {"model_ref": BUSY_MODEL, "prompt": "one more", "max_tokens": 4}
    (
        pact.upon_receiving("a request to submit a task to a full queue")
        .given(STATE_QUEUE_FULL)
        .with_request("POST", "/v1/tasks")
        .with_body(body, content_type=JSON)
        .will_respond_with(429)
        .with_header("Retry-After", match.regex("1", regex=r"^[1-9][0-9]*$"))
        .with_header("X-Backoff-Ms", match.regex("400", regex=r"^[0-9]+$"))
        .with_body(
            envelope(
                "ADMISSION_REJECT",
                retriable=True,
                retry_after_ms=match.int(400),
                policy_label="reject",
            ),
            content_type=JSON,
        )
    )
    with pact.serve() as server, sdk(str(server.url)) as client, pytest.raises(AdmissionReject) as raised:
        client.submit(body)
    found = envelope_of(raised.value)
    assert found is not None and found.policy_label == "reject" and found.retry_after_ms == 400
