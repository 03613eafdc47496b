"""deploy/systemd units: restart on failure, SIGTERM within the shutdown grace, sandboxing (ORCH-8106)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.manifest_checks import DEPLOY, unit_problems, unit_settings

UNITS = DEPLOY / "systemd"
# orchestratord: 10 s shutdown grace; pool_managerd: 10 s engine grace plus 2 s deregistration.
GRACE_S = {"orchestratord.service": 10.0, "pool_managerd.service": 12.0}


@pytest.mark.req("ORCH-8106")
@pytest.mark.parametrize("unit", sorted(GRACE_S))
def test_units_restart_on_failure_and_stop_with_sigterm_within_the_grace(unit: str) -> None:
    assert unit_problems(UNITS / unit, GRACE_S[unit]) == []


@pytest.mark.req("ORCH-8106", "ORCH-6009")
def test_pool_managerd_is_signalled_alone_so_it_stops_its_engines_itself() -> None:
    settings = unit_settings(UNITS / "pool_managerd.service")
    assert settings["Service.KillMode"] == ["mixed"]
    # Engines use the GPU devices: the sandbox must not hide /dev.
    assert "Service.PrivateDevices" not in settings


def _verify(units: list[Path], tmp_path: Path) -> str:
    """systemd-analyze verify on copies whose ExecStart points at an interpreter that exists here."""
    copies = []
    for unit in units:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/orchqueue/.venv/bin/python", sys.executable))
        copies.append(str(copy))
    result = subprocess.run(
        ["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60, check=False
    )
    return (result.stdout + result.stderr).strip()


@pytest.mark.req("ORCH-8106")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze is part of the build host"
    assert _verify(sorted(UNITS.glob("*.service")), tmp_path) == ""


@pytest.mark.req("ORCH-8106")
@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("Restart=on-failure", "Restart=no", "Service.Restart must be on-failure"),
        ("TimeoutStopSec=15s", "TimeoutStopSec=5s", "no time beyond the 10.0 s grace"),
        ("KillSignal=SIGTERM", "KillSignal=SIGKILL", "Service.KillSignal must be SIGTERM"),
        ("NoNewPrivileges=yes", "NoNewPrivileges=no", "Service.NoNewPrivileges must be yes"),
    ],
)
def test_an_invalid_unit_copy_fails(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    text = (UNITS / "orchestratord.service").read_text()
    assert old in text
    copy = tmp_path / "orchestratord.service"
    copy.write_text(text.replace(old, new))
    assert any(complaint in p for p in unit_problems(copy, GRACE_S["orchestratord.service"]))


@pytest.mark.req("ORCH-8106")
def test_systemd_rejects_a_misspelt_setting(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    unit = broken / "orchestratord.service"
    unit.write_text(
        (UNITS / "orchestratord.service").read_text().replace("Restart=on-failure", "Restart=sometimes")
    )
    assert "Failed to parse service restart specifier" in _verify([unit], tmp_path / "broken")
