"""`llorch up` starts the local stack with the bundled SmolLM2 on a real llama-server, prints where it
listens and a curl example that works, and leaves no process behind after Ctrl-C (ORCH-9106)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from cli.stack import StackPlan, free_port, llama_server_command, static_config
from contracts.config_schema.orchestratord import OrchestratordConfig
from tests.cli.llorch_process import interrupt, llorch_process
from tests.cli.llorch_runner import normalise

READY_TIMEOUT_S = 90


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _read_until_ready(process: subprocess.Popen[str], json_mode: bool) -> str:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(
                f"llorch up ended early: {''.join(seen)} {process.stderr and process.stderr.read()}"
            )
        seen.append(line)
        if (json_mode and '"event": "ready"' in line.replace('":"', '": "')) or line.startswith(
            "Press Ctrl-C"
        ):
            return "".join(seen)
    raise AssertionError(f"llorch up not ready within {READY_TIMEOUT_S} s: {''.join(seen)}")


@pytest.mark.req("ORCH-9106", "ORCH-9107", "ORCH-9109", "ORCH-4114")
@pytest.mark.real_engine
@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("stack", "json_mode", "workers"),
    [("static", False, 1), ("static", True, 1), ("managed", True, 1), ("managed", False, 2)],
    ids=["static-human", "static-json", "managed-json", "managed-human-2-workers"],
)
def test_up_serves_a_working_curl_example_and_stops_everything(
    tmp_path: Path, snapshot: SnapshotAssertion, stack: str, json_mode: bool, workers: int
) -> None:
    port, pool_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    argv = ["up", "--stack", stack, "--port", str(port), "--pool-port", str(pool_port)]
    argv += ["--state-dir", str(tmp_path), *(["--json"] if json_mode else [])]
    argv += ["--workers", str(workers)] if workers > 1 else []
    with llorch_process(*argv, text=True) as process:
        banner = _read_until_ready(process, json_mode)
        if json_mode:
            curl = json.loads(banner.splitlines()[-1])["curl"]
        else:
            curl = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl "))
        spawned = _descendants(process.pid)
        answer = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60, check=True)
        err = interrupt(process, timeout_s=40)
    assert process.returncode == 0, err
    assert "event: started" in answer.stdout and "event: end" in answer.stdout
    assert len(re.findall(r"event: token", answer.stdout)) >= 1
    # orchestratord and llama-server, or orchestratord and pool_managerd; with workers, the supervisor,
    # each worker and redis-server too.
    assert len(spawned) >= (2 if workers == 1 else 3 + workers)
    assert [pid for pid in spawned if _alive(pid)] == []
    assert normalise(banner.replace(str(tmp_path), "<state-dir>")) == snapshot


@pytest.mark.req("ORCH-9106", "ORCH-3506", "ORCH-3502")
def test_the_static_stack_declares_its_single_slot_llama_server_strict(tmp_path: Path) -> None:
    plan = StackPlan("127.0.0.1", 8080, 9200, tmp_path)
    config = OrchestratordConfig.model_validate_json(static_config(plan, 8081).read_text())
    command = llama_server_command("127.0.0.1", 8081)
    assert [replica.determinism for replica in config.replicas] == ["strict"]
    assert command[command.index("-np") + 1] == "1" and "--no-cont-batching" in command
