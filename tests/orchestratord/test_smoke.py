from __future__ import annotations

import pytest

from orchd_harness import Daemon


@pytest.mark.req("ORCH-1001")
async def test_smoke(daemon: Daemon) -> None:
    response = await daemon.submit()
    print(response.status_code, response.text, response.headers)
    task_id = response.json()["task_id"]
    status = await daemon.wait_state(task_id, "succeeded", "failed")
    print(status)
    stream = await daemon.client.get(f"/v1/tasks/{task_id}/stream")
    print(stream.text)
    assert status["state"] == "succeeded"
