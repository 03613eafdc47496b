"""Idempotent task ids: the same task (whatever its key order or spelling) replays, a changed one is 409,
and a submission without a task_id is never fingerprinted (ORCH-1005)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from orchestratord.api import tasks as tasks_api
from tests.orchestratord.orchd_harness import MODEL, Daemon

TASK_ID = "0d9a3a57-2f4b-4c1e-8a6d-5b7c9e1f3a2b"
BODY: dict[str, Any] = {
    "task_id": TASK_ID,
    "model_ref": MODEL,
    "prompt": "hello there",
    "max_tokens": 8,
    "temperature": 1.0,
    "stop": ["\n\n"],
    "placement": {"mode": "prefer", "prefer_pools": ["pool-a"]},
}


async def post_raw(daemon: Daemon, content: bytes) -> Any:
    return await daemon.client.post(
        "/v1/tasks", content=content, headers={"Content-Type": "application/json"}
    )


def enqueued(daemon: Daemon) -> float:
    value = daemon.services.metrics.registry.get_sample_value(
        "orchd_tasks_enqueued_total", {"pool_id": "pool-a", "priority": "interactive"}
    )
    return value or 0.0


@pytest.mark.req("ORCH-1005")
async def test_the_same_task_with_keys_reordered_and_defaults_spelled_out_replays(daemon: Daemon) -> None:
    first = await post_raw(daemon, orjson.dumps(BODY))
    assert first.status_code == 202
    reordered = (
        b'{ "placement": {"prefer_pools": ["pool-a"], "mode": "prefer"},\n  "stop": ["\\n\\n"],'
        b' "temperature": 1, "max_tokens": 8, "prompt": "hello there", "priority": "interactive",'
        b' "model_ref": "' + MODEL.encode() + b'", "task_id": "' + TASK_ID.upper().encode() + b'" }'
    )
    again = await post_raw(daemon, reordered)
    assert again.status_code == 202 and again.json() == first.json()
    assert enqueued(daemon) == 1.0
    fingerprint = daemon.services.registry.get(TASK_ID).spec.fingerprint
    assert isinstance(fingerprint, bytes) and len(fingerprint) == 32  # the digest, not the body


@pytest.mark.req("ORCH-1005")
@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "hello there!"},
        {"max_tokens": 9},
        {"temperature": 0.5},
        {"stop": ["\n"]},
        {"seed": 7},
        {"priority": "batch"},
        {"placement": {"mode": "prefer", "prefer_pools": ["pool-b"]}},
    ],
    ids=lambda change: next(iter(change)),
)
async def test_a_changed_field_under_the_same_task_id_is_409_conflict(
    daemon: Daemon, change: dict[str, Any]
) -> None:
    assert (await post_raw(daemon, orjson.dumps(BODY))).status_code == 202
    clash = await post_raw(daemon, orjson.dumps(BODY | change))
    assert clash.status_code == 409 and clash.json()["code"] == "CONFLICT"
    assert TASK_ID in clash.json()["message"]
    assert enqueued(daemon) == 1.0


@pytest.mark.req("ORCH-1005", "ORCH-1006")
async def test_a_submission_without_task_id_is_never_fingerprinted(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_: object) -> bytes:
        raise AssertionError("fingerprint computed for a submission without task_id")

    monkeypatch.setattr(tasks_api, "fingerprint", refuse)
    body = {key: value for key, value in BODY.items() if key != "task_id"}
    admitted = await daemon.submit(**body)
    assert admitted.status_code == 202
    assert daemon.services.registry.get(admitted.json()["task_id"]).spec.fingerprint is None
    chat = await daemon.client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
    )
    assert chat.status_code == 200


@pytest.mark.req("ORCH-1005")
async def test_a_task_id_the_server_assigned_cannot_be_claimed_by_a_later_submission(daemon: Daemon) -> None:
    body = {key: value for key, value in BODY.items() if key != "task_id"}
    assigned = (await daemon.submit(**body)).json()["task_id"]
    claim = await daemon.submit(**body, task_id=assigned)
    assert claim.status_code == 409 and claim.json()["code"] == "CONFLICT"
