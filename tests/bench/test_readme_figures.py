"""The performance tables in README.md and bench/README.md are the latest results file's figures."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bench.report import PROJECT_README, README, generated_section, latest_results


@pytest.mark.req("ORCH-9209")
@pytest.mark.parametrize("readme", [PROJECT_README, README], ids=["README.md", "bench/README.md"])
def test_readme_performance_section_is_generated_from_the_latest_results(readme: Path) -> None:
    path = latest_results()
    assert path is not None, "no bench/results/<date>.json: run `make bench`"
    section = generated_section(orjson.loads(path.read_bytes()), f"bench/results/{path.name}")
    assert section in readme.read_text(), f"{readme} is stale: run `python -m bench.report {path}`"
