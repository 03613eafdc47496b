"""Find the tests that mark what they prove with `pytest.mark.req("ORCH-NNNN", ...)`.

The marks are read statically with `ast` from function and class decorators and from `pytestmark`
(module or class level, a single mark or a list of marks), so no test module is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from orchestrator_core.errors import InvalidParams
from tools.spec_extract.model import Reference

_TEST_DIRS = ("tests", "test_harness")


def is_test_file(path: Path) -> bool:
    """Whether pytest collects `path` under its default naming rules."""
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def collect_test_files(root: Path) -> list[Path]:
    """Every test module under the test folders, in a stable order."""
    found: list[Path] = []
    for folder in _TEST_DIRS:
        found.extend(p for p in (root / folder).rglob("*.py") if is_test_file(p) and ".venv" not in p.parts)
    return sorted(found)


def marked_test_references(root: Path) -> list[Reference]:
    """One reference per (requirement, test node id).

    Raises:
        InvalidParams: a test module does not parse (its path and line are named).
    """
    found: list[Reference] = []
    for path in collect_test_files(root):
        display = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=display)
        except SyntaxError as exc:
            raise InvalidParams(f"{display}:{exc.lineno}: cannot parse test module: {exc.msg}") from exc
        module_ids = _pytestmark_ids(tree.body)
        for node_id, ids in _marked_tests(tree.body, display, module_ids):
            found.extend(Reference(req_id, node_id) for req_id in sorted(ids))
    return found


def _marked_tests(body: list[ast.stmt], prefix: str, inherited: set[str]) -> Iterator[tuple[str, set[str]]]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            ids = inherited | _decorator_ids(node.decorator_list)
            if ids:
                yield f"{prefix}::{node.name}", ids
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            ids = inherited | _decorator_ids(node.decorator_list) | _pytestmark_ids(node.body)
            yield from _marked_tests(node.body, f"{prefix}::{node.name}", ids)


def _pytestmark_ids(body: list[ast.stmt]) -> set[str]:
    ids: set[str] = set()
    for node in body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
            marks = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
            ids |= _decorator_ids(marks)
    return ids


def _decorator_ids(decorators: list[ast.expr]) -> set[str]:
    ids: set[str] = set()
    for decorator in decorators:
        if isinstance(decorator, ast.Call) and _is_req_mark(decorator.func):
            ids.update(
                arg.value
                for arg in decorator.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return ids


def _is_req_mark(func: ast.expr) -> bool:
    """`pytest.mark.req` or `mark.req` (after `from pytest import mark`)."""
    if not (isinstance(func, ast.Attribute) and func.attr == "req"):
        return False
    owner = func.value
    if isinstance(owner, ast.Attribute):
        return owner.attr == "mark"
    return isinstance(owner, ast.Name) and owner.id == "mark"
