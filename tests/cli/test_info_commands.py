"""Snapshots of `llorch capabilities`, `pools`, `nodes` and of error transcripts, with the documented
exit codes (ORCH-9105, ORCH-9107, ORCH-9108, ORCH-9109)."""

from __future__ import annotations

import json

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.cli.llorch_runner import Runner, run_llorch

JSON = pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["human", "json"])
UNKNOWN_TASK = "00000000-0000-4000-8000-0000000000aa"


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109", "ORCH-3506")
@JSON
def test_capabilities(llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]) -> None:
    result = llorch("capabilities", *json_flag)
    assert result.exit_code == 0, result.stderr
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109")
@JSON
def test_pools_lists_the_registered_pools(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    result = llorch("pools", *json_flag)
    assert result.exit_code == 0, result.stderr
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109")
@JSON
def test_nodes_lists_the_registered_nodes(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    result = llorch("nodes", *json_flag)
    assert result.exit_code == 0, result.stderr
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9108", "ORCH-9109")
@JSON
def test_an_unknown_task_exits_5_with_code_message_and_hint(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    result = llorch("status", UNKNOWN_TASK, *json_flag)
    assert result.exit_code == 5 and result.stdout == ""
    assert "NOT_FOUND" in result.stderr
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9108", "ORCH-9109")
@JSON
def test_invalid_parameters_exit_3(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    result = llorch("submit", "x", "--max-tokens", "0", *json_flag)
    assert result.exit_code == 3
    assert "max_tokens" in result.stderr
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9108", "ORCH-9109")
def test_a_bad_flag_is_a_usage_error_exit_2(snapshot: SnapshotAssertion) -> None:
    result = run_llorch("status")
    assert result.exit_code == 2
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9108", "ORCH-9109")
@JSON
def test_an_unreachable_daemon_exits_10(snapshot: SnapshotAssertion, json_flag: tuple[str, ...]) -> None:
    result = run_llorch("capabilities", *json_flag, url="http://127.0.0.1:1")
    assert result.exit_code == 10
    if json_flag:
        assert json.loads(result.stderr)["error"]["exit_code"] == 10
    assert result.normalised() == snapshot
