"""A best_effort task's started event still reports the replica set identity it ran on (ORCH-3504)."""

from __future__ import annotations

import re

import pytest

from tests.orchestratord.orchd_harness import read_stream, running_daemon


@pytest.mark.req("ORCH-3504")
async def test_best_effort_started_event_names_the_identity_used() -> None:
    async with running_daemon() as daemon:
        admitted = await daemon.submit(determinism="best_effort", max_tokens=3)
        assert admitted.status_code == 202, admitted.text
        _, events = await read_stream(daemon.client, admitted.json()["task_id"])
        replica = daemon.services.replicas.get("r0")

    started = events[0]
    assert started.event == "started"
    assert (started.data["pool_id"], started.data["replica_id"], started.data["engine"]) == (
        "pool-a",
        "r0",
        "llamacpp",
    )
    assert started.data["engine_version"] == replica.props.engine_version
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", started.data["model_digest"])
    assert started.data["sampler_profile_version"] == "v1"
