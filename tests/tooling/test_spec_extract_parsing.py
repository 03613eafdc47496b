"""spec_extract reads requirement bullets, finds the tests and code that reference them, and renders the
requirements files and COMPLIANCE.md, on a small sample repository."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator_core.errors import InvalidParams
from tools.spec_extract.__main__ import main
from tools.spec_extract.extract import extract

SPEC = """\
# Sample spec

## 1. Queue

- **ORCH-0001** The queue MUST NOT exceed its capacity.
- **ORCH-0002** Clients SHOULD NOT retry before `Retry-After`; they MAY back off longer.
- **ORCH-0003** A server MAY expose extra metrics.
- **ORCH-0004-DEPR** Replaced by ORCH-0001; the queue SHALL grow without bound.
Plain prose mentioning ORCH-0005 is not a requirement.

## 2. Options

* **ORCH-0006** Sampling parameters are OPTIONAL and RECOMMENDED to be explicit.
"""

METRICS_SPEC = """\
# Metrics

- **ORCH-0100** Every metric MUST carry the labels listed here.
"""

TESTS = """\
import pytest
from pytest import mark

pytestmark = [pytest.mark.slow, pytest.mark.req("ORCH-0100")]


@pytest.mark.req("ORCH-0001", "ORCH-0002")
def test_capacity() -> None: ...


@mark.req("ORCH-0003")
async def test_metrics() -> None: ...


def test_unmarked() -> None: ...


@pytest.mark.req("ORCH-0006")
class TestOptions:
    pytestmark = pytest.mark.req("ORCH-0003")

    def test_optional(self) -> None: ...

    @pytest.mark.req("ORCH-9999")
    def test_unknown(self) -> None: ...

    def helper(self) -> None: ...
"""

OPENAPI = """\
openapi: 3.1.0
paths:
  /v1/queue:
    post:
      x-req-id:
        - ORCH-0001
        - ORCH-0006
    get:
      x-req-id: ORCH-0002
"""

MEASUREMENT = {
    "gate": "e2e_haiku",
    "model": "tiny-model",
    "attempts": 20,
    "passes": 17,
    "per_attempt_pass_rate": 0.85,
    "measured_on": "2026-01-01",
    "notes": "3 attempts | distinct seeds",
}


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    _write(tmp_path, ".specs/sample-spec.md", SPEC)
    _write(tmp_path, ".specs/metrics/otel.md", METRICS_SPEC)
    _write(tmp_path, ".specs/notes.md", "# Notes\n\nNo requirements here.\n")
    _write(tmp_path, "tests/area/test_queue.py", TESTS)
    _write(tmp_path, "tests/area/conftest.py", "# ORCH-0003 in a conftest is neither test nor code\n")
    module = '"""Bounded queue (ORCH-0001)."""\n\nX = 1  # ORCH-0001, ORCH-0777\n'
    _write(tmp_path, "orchestratord/queue.py", module)
    _write(tmp_path, "test_harness/helpers.py", "# shared helper for ORCH-0003\n")
    _write(tmp_path, "contracts/openapi/data.yaml", OPENAPI)
    return tmp_path


def _rows(root: Path, stem: str) -> dict[str, dict[str, Any]]:
    rows = yaml.safe_load(extract(root).files[f"requirements/{stem}.yaml"])
    return {row["id"]: row for row in rows}


@pytest.mark.req("ORCH-9003")
def test_levels_sections_and_deprecation_come_from_the_bullets(sample_repo: Path) -> None:
    rows = _rows(sample_repo, "sample-spec")

    assert list(rows) == ["ORCH-0001", "ORCH-0002", "ORCH-0003", "ORCH-0004", "ORCH-0006"]
    assert {i: r["level"] for i, r in rows.items()} == {
        "ORCH-0001": "MUST",
        "ORCH-0002": "SHOULD",
        "ORCH-0003": "MAY",
        "ORCH-0004": "MUST",
        "ORCH-0006": "SHOULD",
    }
    assert rows["ORCH-0004"]["deprecated"] is True
    assert rows["ORCH-0001"]["deprecated"] is False
    assert rows["ORCH-0001"]["section"] == "1. Queue"
    assert rows["ORCH-0006"]["section"] == "2. Options"
    assert rows["ORCH-0001"]["text"] == "The queue MUST NOT exceed its capacity."


@pytest.mark.req("ORCH-9003")
def test_only_spec_files_with_requirements_produce_a_requirements_file(sample_repo: Path) -> None:
    assert sorted(extract(sample_repo).files) == [
        "COMPLIANCE.md",
        "requirements/otel.yaml",
        "requirements/sample-spec.yaml",
    ]


@pytest.mark.req("ORCH-9003")
def test_tests_are_found_through_decorators_classes_and_pytestmark(sample_repo: Path) -> None:
    rows = _rows(sample_repo, "sample-spec")
    base = "tests/area/test_queue.py"

    assert rows["ORCH-0001"]["tests"] == [f"{base}::test_capacity"]
    assert rows["ORCH-0003"]["tests"] == [
        f"{base}::TestOptions::test_optional",
        f"{base}::TestOptions::test_unknown",
        f"{base}::test_metrics",
    ]
    assert rows["ORCH-0006"]["tests"] == [
        f"{base}::TestOptions::test_optional",
        f"{base}::TestOptions::test_unknown",
    ]
    metrics_row = _rows(sample_repo, "otel")["ORCH-0100"]
    assert f"{base}::test_unmarked" in metrics_row["tests"]
    assert f"{base}::TestOptions::helper" not in metrics_row["tests"]
    assert len(metrics_row["tests"]) == 5


@pytest.mark.req("ORCH-9003")
def test_code_references_come_from_python_and_openapi_x_req_id(sample_repo: Path) -> None:
    rows = _rows(sample_repo, "sample-spec")

    # Files, not lines: an edit elsewhere in a file must not make COMPLIANCE.md stale.
    assert rows["ORCH-0001"]["code"] == ["contracts/openapi/data.yaml", "orchestratord/queue.py"]
    assert rows["ORCH-0002"]["code"] == ["contracts/openapi/data.yaml"]
    assert rows["ORCH-0003"]["code"] == ["test_harness/helpers.py"]
    assert rows["ORCH-0006"]["code"] == ["contracts/openapi/data.yaml"]


@pytest.mark.req("ORCH-9003")
def test_unknown_ids_are_reported_for_tests_and_code(sample_repo: Path) -> None:
    result = extract(sample_repo)
    compliance = result.files["COMPLIANCE.md"]
    unknown = compliance.split("## Unknown IDs", 1)[1].split("\n## ", 1)[0]

    assert result.unknown_test_ids == {"ORCH-9999": ["tests/area/test_queue.py::TestOptions::test_unknown"]}
    assert "ORCH-9999 (test)" in unknown
    assert "ORCH-0777 (code): `orchestratord/queue.py`" in unknown


@pytest.mark.req("ORCH-9003")
def test_compliance_lists_totals_untested_musts_and_no_measurements(sample_repo: Path) -> None:
    (sample_repo / "tests/area/test_queue.py").write_text("def test_nothing() -> None: ...\n")
    compliance = extract(sample_repo).files["COMPLIANCE.md"]

    assert compliance.startswith("# COMPLIANCE\n\nGenerated by `make regen` (`python -m tools.spec_extract`)")
    assert "| MUST | 2 | 0 | 1 |" in compliance
    assert "| all | 5 | 0 | 4 |" in compliance
    untested = compliance.split("## MUST requirements lacking a test", 1)[1].split("\n## ", 1)[0]
    assert "**ORCH-0001**" in untested and "**ORCH-0100**" in untested
    assert "ORCH-0004" not in untested  # deprecated
    assert "None recorded yet" in compliance


@pytest.mark.req("ORCH-9003")
def test_measurements_are_rendered_when_recorded(sample_repo: Path) -> None:
    _write(sample_repo, "test_harness/measurements/haiku-tiny.json", json.dumps(MEASUREMENT))
    compliance = extract(sample_repo).files["COMPLIANCE.md"]

    row = "| e2e_haiku | tiny-model | 20 | 17 | 0.85 | 2026-01-01 | 3 attempts \\| distinct seeds |"
    assert row in compliance
    assert "None recorded yet" not in compliance


@pytest.mark.req("ORCH-9003")
def test_a_malformed_measurement_is_a_typed_error_naming_the_file(sample_repo: Path) -> None:
    _write(sample_repo, "test_harness/measurements/bad.json", json.dumps({**MEASUREMENT, "passes": "many"}))

    with pytest.raises(InvalidParams, match=r"test_harness/measurements/bad\.json.*passes"):
        extract(sample_repo)


@pytest.mark.req("ORCH-9003")
def test_duplicate_ids_are_rejected_even_across_files(sample_repo: Path) -> None:
    _write(sample_repo, ".specs/other.md", "- **ORCH-0002-DEPR** Old wording that MUST go.\n")

    with pytest.raises(InvalidParams, match=r"duplicate requirement ORCH-0002"):
        extract(sample_repo)


@pytest.mark.req("ORCH-9003")
def test_a_requirement_without_an_rfc2119_keyword_is_rejected_with_its_line(sample_repo: Path) -> None:
    _write(sample_repo, ".specs/other.md", "# Other\n\n- **ORCH-0200** The queue is fast.\n")

    with pytest.raises(InvalidParams, match=r"\.specs/other\.md:3: ORCH-0200"):
        extract(sample_repo)


@pytest.mark.req("ORCH-9003")
def test_check_fails_on_stale_files_and_passes_after_writing(
    sample_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sample_repo / "tests/area/test_queue.py").write_text(TESTS.replace('"ORCH-9999"', '"ORCH-0003"'))
    assert main(["--check", "--root", str(sample_repo)]) == 1
    assert "stale: COMPLIANCE.md" in capsys.readouterr().err

    assert main(["--root", str(sample_repo)]) == 0
    assert main(["--check", "--root", str(sample_repo)]) == 0
    assert (sample_repo / "requirements/sample-spec.yaml").is_file()

    _write(sample_repo, "requirements/removed-spec.yaml", "[]\n")
    assert main(["--check", "--root", str(sample_repo)]) == 1
    assert "stale: requirements/removed-spec.yaml" in capsys.readouterr().err


@pytest.mark.req("ORCH-9003")
def test_check_fails_when_a_test_references_an_unknown_id(
    sample_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(sample_repo)]) == 0
    capsys.readouterr()

    assert main(["--check", "--root", str(sample_repo)]) == 1
    assert "unknown requirement ORCH-9999" in capsys.readouterr().err


@pytest.mark.req("ORCH-9003")
def test_output_is_deterministic(sample_repo: Path) -> None:
    assert extract(sample_repo) == extract(sample_repo)
