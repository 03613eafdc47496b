"""`python -m tools.metrics_lint` as CI runs it: exit 0 on the repository, 1 on a broken dashboard."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.observability.support import REPO


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.metrics_lint", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.req("ORCH-8004", "ORCH-8005")
def test_the_repository_lints_clean() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s)" in result.stderr


@pytest.mark.req("ORCH-8004", "ORCH-8005")
def test_an_unknown_metric_in_a_panel_makes_the_cli_fail(tmp_path: Path) -> None:
    dashboards = tmp_path / "dashboards"
    shutil.copytree(REPO / "ci/dashboards", dashboards)
    path = dashboards / "orchqueue-nodes.json"
    doc = json.loads(path.read_text())
    panel = next(p for p in doc["panels"] if p["type"] != "row")
    panel["targets"][0]["expr"] = "sum(orchd_gpu_temperature_celsius)"
    path.write_text(json.dumps(doc))
    result = _lint("--dashboards", str(dashboards))
    assert result.returncode == 1
    assert "metric 'orchd_gpu_temperature_celsius' is not in the metrics spec" in result.stdout


@pytest.mark.req("ORCH-8005")
def test_a_scrape_file_with_a_renamed_metric_makes_the_cli_fail(tmp_path: Path) -> None:
    scrape = tmp_path / "orchd.prom"
    scrape.write_text(
        "# HELP orchd_sessions_open Sessions.\n# TYPE orchd_sessions_open gauge\norchd_sessions_open 0\n"
    )
    result = _lint("--scrape", f"orchestratord={scrape}")
    assert result.returncode == 1
    assert "family 'orchd_sessions_open' (gauge) is not in the metrics spec" in result.stdout
    assert "orchd_sessions_active: a spec family that the daemon does not emit" in result.stdout
