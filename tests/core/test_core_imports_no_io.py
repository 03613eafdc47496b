"""orchestrator_core stays pure: no I/O, concurrency, environment or wall-clock imports or calls."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import orchestrator_core

CORE = Path(orchestrator_core.__file__).parent
DENIED = {
    "asyncio", "socket", "ssl", "select", "selectors", "httpx", "httpcore", "fastapi", "starlette", "uvicorn",
    "subprocess", "os", "sys", "threading", "multiprocessing", "concurrent", "pydantic_settings", "time",
    "datetime", "random", "requests", "urllib", "http", "io", "pathlib", "shutil", "signal", "logging",
    "orjson", "prometheus_client", "sse_starlette", "worker_adapters", "mock_engine", "orchestratord",
    "pool_managerd",
}  # fmt: skip
ALLOWED = {
    "__future__", "abc", "bisect", "collections", "dataclasses", "enum", "functools", "hashlib", "heapq",
    "itertools", "math", "typing", "uuid", "orchestrator_core",
}  # fmt: skip
DENIED_CALLS = {
    ("os", "environ"),
    ("os", "getenv"),
    ("time", "time"),
    ("time", "monotonic"),
    ("datetime", "now"),
}


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            roots.add("__import__")
    return roots


def attribute_uses(tree: ast.AST) -> set[tuple[str, str]]:
    return {
        (node.value.id, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }


MODULES = sorted(CORE.rglob("*.py"))


@pytest.mark.req("ORCH-9004")
@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_only_pure_stdlib_and_core(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = imported_roots(tree)
    assert not roots & DENIED, f"{path.name} imports {sorted(roots & DENIED)}"
    assert roots <= ALLOWED, f"{path.name} imports modules outside the allow-list: {sorted(roots - ALLOWED)}"
    assert not attribute_uses(tree) & DENIED_CALLS


@pytest.mark.req("ORCH-9004")
def test_the_gate_sees_every_module_and_catches_a_denied_import() -> None:
    assert {p.name for p in MODULES} >= {"queue.py", "placement.py", "admission.py", "errors.py"}
    assert imported_roots(ast.parse("import asyncio.tasks\nfrom os import environ")) == {"asyncio", "os"}
    assert attribute_uses(ast.parse("os.environ['X']")) & DENIED_CALLS
