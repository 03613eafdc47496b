"""README documents the multi-host picture, its network paths and scaling (ORCH-8107), and says which
engines are proven against a real engine process and which only against the mock (ORCH-9021)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def section(text: str, heading: str) -> str:
    """The body of a `## heading` section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {heading!r}"
    return match.group(1)


@pytest.mark.req("ORCH-8107")
def test_readme_documents_hosts_network_paths_and_scaling() -> None:
    hosts = section((ROOT / "README.md").read_text(encoding="utf-8"), "Several hosts")
    assert "One `orchestratord` for the cluster, one `pool_managerd` per GPU host" in hosts
    assert "deploy/README.md" in hosts
    guide = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    paths = section(guide, "The multi-host picture")
    table = [line for line in paths.splitlines() if line.startswith("| ")]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    routes = {(row[0], row[1].split()[0]) for row in cells if len(row) >= 2 and row[1]}
    assert {
        ("clients", "orchestratord"),
        ("orchestratord", "engines"),
        ("pool_managerd", "orchestratord"),
    } <= routes
    scaling = section(guide, "Scaling")
    assert "More hosts" in scaling and "More GPUs on a host" in scaling


@pytest.mark.req("ORCH-9021")
def test_readme_says_which_engines_run_for_real_and_which_only_on_the_mock() -> None:
    engines = section((ROOT / "README.md").read_text(encoding="utf-8"), "Engines")
    proven = {}
    for line in engines.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in {"engine", "---"}:
            proven[cells[0].split()[0]] = cells[2]
    assert "a real `llama-server`" in proven["llama.cpp"]
    assert "llama-server's OpenAI-compatible endpoints" in proven["vLLM"]
    for engine in ("TGI", "Triton"):
        assert "the mock's" in proven[engine] and "real" not in proven[engine]
