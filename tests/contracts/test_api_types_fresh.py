"""The committed contracts/api_types modules equal a fresh generation from contracts/openapi."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.regen import api_types

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("ORCH-9001")
def test_committed_api_types_equal_a_fresh_generation() -> None:
    stale = api_types.regenerate(check=True)

    assert stale == [], f"stale generated files {stale}: run `python -m tools.regen`"


@pytest.mark.req("ORCH-9001")
def test_check_reports_an_edited_generated_file_and_writes_nothing(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "contracts" / "openapi", tmp_path / "contracts" / "openapi")
    shutil.copytree(REPO_ROOT / "contracts" / "api_types", tmp_path / "contracts" / "api_types")
    edited = tmp_path / "contracts" / "api_types" / "pool.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")

    stale = api_types.regenerate(check=True, root=tmp_path)

    assert stale == ["contracts/api_types/pool.py"]
    assert edited.read_text(encoding="utf-8").endswith("# hand edit\n")


@pytest.mark.req("ORCH-9001")
def test_regenerate_rewrites_a_stale_file(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "contracts" / "openapi", tmp_path / "contracts" / "openapi")
    (tmp_path / "contracts" / "api_types").mkdir()

    written = api_types.regenerate(check=False, root=tmp_path)

    assert written == [f"contracts/api_types/{name}.py" for name in api_types.CONTRACTS]
    assert (tmp_path / "contracts" / "api_types" / "data.py").read_bytes() == (
        REPO_ROOT / "contracts" / "api_types" / "data.py"
    ).read_bytes()


@pytest.mark.req("ORCH-9001")
def test_cli_check_exits_1_and_names_the_stale_files(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools.regen import __main__ as cli

    monkeypatch.setattr(api_types, "regenerate", lambda check: ["contracts/api_types/data.py"])
    monkeypatch.setattr(cli, "_config_schema_regenerate", lambda: lambda check: ["contracts/schemas/x.json"])

    status = cli.main(["--check"])

    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "stale: contracts/api_types/data.py (run `make regen`)",
        "stale: contracts/schemas/x.json (run `make regen`)",
    ]
