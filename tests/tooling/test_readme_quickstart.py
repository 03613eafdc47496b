"""README's quickstart works as printed against the stack `make run` starts (`llorch up`): its curl
commands admit a task and stream it, and its OpenAI SDK snippet gets a chat answer, a tool call and a
structured answer (ORCH-9106, ORCH-1061, ORCH-1069, ORCH-1090)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.stack import free_port
from tests.cli.test_up import _read_until_ready

ROOT = Path(__file__).resolve().parents[2]
README_URL = "http://127.0.0.1:8080"


def quickstart() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]


def fenced(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def curl_commands(section: str) -> list[str]:
    """The curl commands of the block that submits a task, without the output shown as comments."""
    block = next(b for b in fenced(section, "bash") if "/v1/tasks" in b)
    lines = [line for line in block.splitlines() if not line.lstrip().startswith("#")]
    commands: list[str] = []
    for line in lines:
        if line.startswith("curl "):
            commands.append(line)
        elif commands:
            commands[-1] += "\n" + line
    return commands


@pytest.mark.req("ORCH-9106", "ORCH-1061", "ORCH-1069", "ORCH-1090")
@pytest.mark.real_engine
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_readme_quickstart_runs_against_the_local_stack(tmp_path: Path) -> None:
    section = quickstart()
    submit, stream = curl_commands(section)
    [sdk_snippet] = fenced(section, "python")
    port, pool_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "cli", "up", "--port", str(port), "--pool-port", str(pool_port)]
    argv += ["--state-dir", str(tmp_path), "--json"]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _read_until_ready(process, json_mode=True)
        admitted = subprocess.run(
            ["bash", "-c", submit.replace(README_URL, url)], capture_output=True, text=True, timeout=30
        )
        streamed = subprocess.run(
            ["bash", "-c", stream.replace(README_URL, url)], capture_output=True, text=True, timeout=60
        )
        printed = io.StringIO()
        namespace: dict[str, object] = {}
        with contextlib.redirect_stdout(printed):
            exec(compile(sdk_snippet.replace(README_URL, url), "README.md", "exec"), namespace)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    admission = json.loads(admitted.stdout)
    assert admission["task_id"] == "e13acab6-6d3f-40b3-bfe7-f03e94723d0b"
    assert admission["streams"]["sse"].endswith(f"/v1/tasks/{admission['task_id']}/stream")
    events = re.findall(r"^event: (\w+)", streamed.stdout, flags=re.M)
    end = json.loads(re.findall(r"^event: end\n(?:id: .*\n)?data: (.*)$", streamed.stdout, flags=re.M)[0])
    assert events[0] == "started" and events[-1] == "end"
    assert 1 <= events.count("token") == end["tokens_out"] <= 24
    assert printed.getvalue().strip() != ""
    # The tool call and the structured output of the snippet (ORCH-1069, ORCH-1090).
    assert "get_weather {" in printed.getvalue()
    city_model = namespace["City"]
    assert isinstance(city_model, type) and isinstance(namespace["city"], city_model)
