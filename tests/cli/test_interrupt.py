"""Ctrl-C during `llorch submit` cancels the task on the server and exits 130 (ORCH-9104, ORCH-9108)."""

from __future__ import annotations

import re

import pytest

from tests.cli.llorch_process import interrupt, llorch_process
from tests.sdk.live_orchd import LiveOrchestratord
from tools.openapi_client import Client


@pytest.mark.req("ORCH-9104", "ORCH-9108")
def test_ctrl_c_cancels_the_task_and_exits_130(orchd: LiveOrchestratord) -> None:
    orchd.set_faults(token_delay_ms=50)
    argv = ["submit", "count slowly", "--max-tokens", "400", "--url", orchd.url]
    with llorch_process(*argv) as process:
        assert process.stdout is not None
        first = process.stdout.read(1)  # text is flowing, so the task runs
        assert first
        err = interrupt(process, timeout_s=15)
    assert process.returncode == 130, err
    found = re.search(rb"canceled task ([0-9a-f-]{36})", err)
    assert found, err
    with Client(orchd.url) as client:
        status = client.status(found.group(1).decode())
    assert status.state == "canceled"
    assert status.tokens_out < 400
