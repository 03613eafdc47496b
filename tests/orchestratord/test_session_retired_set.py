"""A session whose replica set was retired (by a reload or a deregistration) is refused with 409 CONFLICT
naming the retired identity, and is deleted (ORCH-3010, ORCH-3004)."""

from __future__ import annotations

import uuid

import pytest

from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from mock_engine.faults import MockConfig
from orchestratord.services.replicas import ReplicaSpec
from tests.orchestratord.orchd_harness import MODEL, Daemon, no_retry_options, read_stream, running_daemon

NEW_DIGEST = "sha256:" + "4b" * 32


async def session_turn(daemon: Daemon, session_id: str) -> dict[str, object]:
    response = await daemon.submit(session_id=session_id, max_tokens=2)
    assert response.status_code == 202, response.text
    _, events = await read_stream(daemon.client, response.json()["task_id"])
    return events[0].data


async def replace_replica_set(daemon: Daemon) -> None:
    """What a reload does: the old replica leaves, a replica of the same model with a new digest serves."""
    replicas = daemon.services.replicas
    replicas.remove("r0")
    spec = ReplicaSpec(
        replica_id="r2", pool_id="pool-a", engine="llamacpp", model_ref=MODEL, model_digest=NEW_DIGEST
    )
    replicas.register(spec, MockAdapter(MockEngine(MockConfig(slots=2)), no_retry_options()))
    await replicas.refresh()


@pytest.mark.req("ORCH-3010", "ORCH-3004", "ORCH-1104")
async def test_a_session_turn_after_its_replica_set_retired_is_409_naming_it_and_the_session_is_gone() -> (
    None
):
    async with running_daemon() as daemon:
        session_id = str(uuid.uuid4())
        first = await session_turn(daemon, session_id)
        await replace_replica_set(daemon)
        refused = await daemon.submit(session_id=session_id, max_tokens=2)
        session = await daemon.client.get(f"/v1/sessions/{session_id}")
        fresh = await session_turn(daemon, str(uuid.uuid4()))
        again = await daemon.submit(session_id=session_id, max_tokens=2)
    assert refused.status_code == 409, refused.text
    envelope = refused.json()
    assert envelope["code"] == "CONFLICT" and envelope["retriable"] is False
    for part in ("engine", "engine_version", "model_digest", "sampler_profile_version"):
        assert str(first[part]) in envelope["message"], (part, envelope["message"])
    assert session.status_code == 404
    assert fresh["model_digest"] == NEW_DIGEST
    # The id names a new session now, created on the new replica set.
    assert again.status_code == 202, again.text


@pytest.mark.req("ORCH-3010", "ORCH-3004")
async def test_a_session_whose_replica_set_is_still_registered_keeps_its_turns() -> None:
    async with running_daemon() as daemon:
        session_id = str(uuid.uuid4())
        first = await session_turn(daemon, session_id)
        second = await session_turn(daemon, session_id)
        info = await daemon.client.get(f"/v1/sessions/{session_id}")
    assert second["model_digest"] == first["model_digest"]
    assert info.status_code == 200 and info.json()["turns"] == 2
