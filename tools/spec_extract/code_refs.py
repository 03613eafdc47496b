"""Find the code that names a requirement: `ORCH-NNNN` in project Python outside tests, and the
`x-req-id` lists of the OpenAPI contracts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tools.spec_extract.model import Reference
from tools.spec_extract.tests_refs import is_test_file

CODE_DIRS = (
    "orchestratord",
    "orchestrator_core",
    "pool_managerd",
    "worker_adapters",
    "mock_engine",
    "contracts",
    "cli",
    "tools",
    "bench",
    "test_harness",
)
_ID = re.compile(r"\bORCH-\d{4}\b")


def code_files(root: Path) -> list[Path]:
    """Project Python modules that are not tests (conftest files count as tests)."""
    found = [
        path
        for folder in CODE_DIRS
        for path in (root / folder).rglob("*.py")
        if not is_test_file(path) and path.name != "conftest.py"
    ]
    return sorted(found)


def python_references(root: Path) -> list[Reference]:
    """One reference per (requirement, file) in project Python code.

    Files, not lines: a line number would make COMPLIANCE.md stale on every unrelated edit above it.
    """
    found: list[Reference] = []
    for path in code_files(root):
        display = path.relative_to(root).as_posix()
        ids = sorted(set(_ID.findall(path.read_text(encoding="utf-8"))))
        found.extend(Reference(req_id, display) for req_id in ids)
    return found


def openapi_references(root: Path) -> list[Reference]:
    """One reference per entry of every `x-req-id` list (or single value) in contracts/openapi/*.yaml."""
    found: list[Reference] = []
    for path in sorted((root / "contracts" / "openapi").glob("*.yaml")):
        display = path.relative_to(root).as_posix()
        document = yaml.compose(path.read_text(encoding="utf-8"))
        if document is not None:
            found.extend(_x_req_ids(document, display))
    return found


def _x_req_ids(node: yaml.Node, display: str) -> list[Reference]:
    found: list[Reference] = []
    pending: list[yaml.Node] = [node]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:  # YAML aliases may share nodes
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "x-req-id":
                    found.extend(_scalars(value, display))
                else:
                    pending.append(value)
        elif isinstance(current, yaml.SequenceNode):
            pending.extend(current.value)
    return found


def _scalars(node: yaml.Node, display: str) -> list[Reference]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return [Reference(str(item.value), display) for item in items if isinstance(item, yaml.ScalarNode)]


def code_references(root: Path) -> list[Reference]:
    """Python mentions and OpenAPI `x-req-id` entries together."""
    return python_references(root) + openapi_references(root)
