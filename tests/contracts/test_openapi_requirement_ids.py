"""Every OpenAPI operation names, in `x-req-id`, only requirements the specification defines (ORCH-9005)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.contracts.test_openapi_documents import CONTRACTS, load, operations

SPEC = Path(__file__).resolve().parents[2] / ".specs" / "orchestrator-spec.md"


def defined_ids() -> set[str]:
    """The requirement ids of the specification's requirement lines (withdrawn ones excluded)."""
    text = SPEC.read_text(encoding="utf-8")
    return set(re.findall(r"^- \*\*(ORCH-\d{4})\*\*", text, re.M))


@pytest.mark.req("ORCH-9005")
def test_the_specification_defines_the_ids_the_check_relies_on() -> None:
    ids = defined_ids()
    assert {"ORCH-1001", "ORCH-9005", "ORCH-9209"} <= ids
    assert "ORCH-1009" not in ids  # a gap in the numbering is an unknown id


@pytest.mark.req("ORCH-9005")
@pytest.mark.parametrize("name", CONTRACTS)
def test_every_operation_names_only_defined_requirements(name: str) -> None:
    known = defined_ids()
    problems = []
    for method, path, op in operations(load(name)):
        req_ids = op.get("x-req-id")
        if not isinstance(req_ids, list) or not req_ids:
            problems.append(f"{method} {path}: no x-req-id")
            continue
        problems.extend(f"{method} {path}: unknown {req_id!r}" for req_id in req_ids if req_id not in known)
    assert problems == []
