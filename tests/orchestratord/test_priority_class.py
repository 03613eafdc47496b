"""Every task has exactly one priority class, interactive by default."""

from __future__ import annotations

import pytest

from tests.orchestratord.orchd_harness import Daemon


@pytest.mark.req("ORCH-2002")
async def test_priority_defaults_to_interactive_and_batch_is_kept(daemon: Daemon) -> None:
    default = (await daemon.submit()).json()["task_id"]
    batch = (await daemon.submit(priority="batch")).json()["task_id"]
    assert (await daemon.client.get(f"/v1/tasks/{default}")).json()["priority"] == "interactive"
    assert (await daemon.client.get(f"/v1/tasks/{batch}")).json()["priority"] == "batch"


@pytest.mark.req("ORCH-2002")
@pytest.mark.parametrize("priority", ["urgent", "", None, ["batch", "interactive"]])
async def test_any_other_priority_is_400_invalid_params(daemon: Daemon, priority: object) -> None:
    refused = await daemon.submit(priority=priority)
    assert refused.status_code == 400
    assert refused.json()["code"] == "INVALID_PARAMS"
