"""Ctrl-C during `llorch submit` cancels the task on the server and exits 130 (ORCH-9104, ORCH-9108)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sdk.live_orchd import LiveOrchestratord
from tools.openapi_client import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("ORCH-9104", "ORCH-9108")
def test_ctrl_c_cancels_the_task_and_exits_130(orchd: LiveOrchestratord) -> None:
    orchd.set_faults(token_delay_ms=50)
    argv = [sys.executable, "-m", "cli", "submit", "count slowly", "--max-tokens", "400", "--url", orchd.url]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.read(1)  # text is flowing, so the task runs
        assert first
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, err
    found = re.search(rb"canceled task ([0-9a-f-]{36})", err)
    assert found, err
    with Client(orchd.url) as client:
        status = client.status(found.group(1).decode())
    assert status.state == "canceled"
    assert status.tokens_out < 400
