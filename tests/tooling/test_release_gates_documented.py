"""Each release gate has a documented change that makes it fail (ORCH-9018).

The table in test_harness/README.md is the documentation; every test module of the gate folders must be in a
row, every row must name a failing change and what the failure shows, and every module it names must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "test_harness" / "README.md"
GATE_FOLDERS = ("tests/gates", "tests/chaos", "tests/contract", "tests/bdd")
MODULE = re.compile(r"`(tests/[\w/]+\.py)`")


def gate_rows() -> list[list[str]]:
    rows = []
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and MODULE.search(cells[1]):
            rows.append(cells)
    return rows


@pytest.mark.req("ORCH-9018")
def test_every_gate_module_is_in_the_failure_table() -> None:
    documented = {module for row in gate_rows() for module in MODULE.findall(row[1])}
    gate_modules = {
        path.relative_to(ROOT).as_posix()
        for folder in GATE_FOLDERS
        for path in (ROOT / folder).glob("test_*.py")
    }

    assert gate_modules - documented == set()


@pytest.mark.req("ORCH-9018")
def test_every_row_names_a_failing_change_and_existing_modules() -> None:
    rows = gate_rows()

    assert len(rows) >= 6
    for gate, modules, change, shows in rows:
        assert change and shows, f"{gate}: no failing change or no failure shown"
        for module in MODULE.findall(modules):
            assert (ROOT / module).is_file(), f"{gate}: {module} does not exist"
