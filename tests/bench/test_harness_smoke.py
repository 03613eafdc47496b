"""The benchmark harness runs every phase at tiny scale and writes a complete, valid results file.

Figures are not asserted (speed targets belong to the benchmark itself); the shape of the results is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

ARMS = ("direct", "v1", "openai")
LEVELS = ("1", "4")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--no-readme"],
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    files = sorted(out.glob("*.json"))
    assert len(files) == 1, files
    return orjson.loads(files[0].read_bytes()), files[0]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.req("ORCH-9201")
def test_every_arm_streams_tokens_at_every_concurrency(quick_run: tuple[dict[str, Any], Path]) -> None:
    results, _ = quick_run
    assert set(results["arms"]) == set(ARMS)
    for arm in ARMS:
        assert set(results["arms"][arm]) == set(LEVELS)
        for level in LEVELS:
            cell = results["arms"][arm][level]
            assert cell["requests"] > 0
            assert cell["failed"] == 0, cell["errors"]
            assert cell["tokens"] == cell["requests"] * results["plan"]["max_tokens"]
            assert cell["ttft_ms"]["p50"] is not None


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.req("ORCH-9202")
def test_results_carry_every_figure_and_the_machine(quick_run: tuple[dict[str, Any], Path]) -> None:
    results, path = quick_run
    for arm in ("v1", "openai"):
        cell = results["arms"][arm]["1"]
        assert set(cell["added_ttft_ms"]) == {"p50", "p99"}
        assert cell["orchestratord"]["cpu_s_per_1k_tokens"] is not None
        assert cell["orchestratord"]["rss_mib_max"] > 0
        assert cell["ratio_to_direct"]["tokens_per_s"] > 0
        assert cell["inter_token_gap_ms"]["samples"] > 0
    phase = results["admission"]
    assert phase["admission"]["statuses"] == {"202": results["plan"]["admission_tasks"]}
    assert phase["memory"]["bytes_per_queued_task"] is not None
    assert set(phase["flood"]["statuses"]) == {"429"}
    assert phase["flood"]["latency_429_ms"]["p99"] is not None
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["cpu_model"] and machine["python"]
    assert path.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    assert {row["id"] for row in results["targets"]} == {f"ORCH-920{n}" for n in range(3, 9)} | {"ORCH-4116"}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.req("ORCH-4116")
def test_the_shared_phase_measures_embedded_beside_redis(quick_run: tuple[dict[str, Any], Path]) -> None:
    shared = quick_run[0]["shared"]
    relay = shared["relay"]
    assert set(relay) == {"embedded", "redis, 1 instance", "redis, 2 workers"}
    for figures in relay.values():
        assert figures["tokens_per_s"] > 0 and figures["failed"] == 0, relay
    assert relay["embedded"]["vs_embedded"] == 1.0
    admission = shared["admission"]
    assert admission["statuses"] == {"202": admission["tasks"]}
    assert set(admission["flood"]["statuses"]) == {"429"}
    assert shared["bytes"]["bytes_per_queued_task"] > 0 and shared["bytes"]["bytes_per_retained_task"] > 0


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.req("ORCH-9208")
def test_core_queue_figures_are_included(quick_run: tuple[dict[str, Any], Path]) -> None:
    core = quick_run[0]["core"]
    for depth in ("depth_10000", "depth_1000"):
        assert core[depth]["ops_per_s"] > 0
        assert set(core[depth]["per_op"]) == {"enqueue", "dequeue", "cancel"}
        assert all(op["p99_us"] > 0 for op in core[depth]["per_op"].values())
