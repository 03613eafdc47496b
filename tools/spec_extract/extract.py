"""Build every generated file in memory, then write it or compare it with the committed copy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.spec_extract.code_refs import code_references
from tools.spec_extract.measurements import load_measurements
from tools.spec_extract.model import References
from tools.spec_extract.render import compliance_md, index, requirements_yaml, unknown_ids
from tools.spec_extract.spec import collect_requirements
from tools.spec_extract.tests_refs import marked_test_references


@dataclass(frozen=True)
class Extraction:
    """The generated files (relative path -> content) and the test references to unknown IDs."""

    files: dict[str, str]
    unknown_test_ids: dict[str, list[str]]


def extract(root: Path) -> Extraction:
    """Read `.specs/`, the tests and the code under `root` and render every generated file.

    Raises:
        InvalidParams: the spec is malformed (duplicate IDs, missing keywords, no requirements).
    """
    by_spec = collect_requirements(root / ".specs", root)
    refs = References(tests=marked_test_references(root), code=code_references(root))
    tests, code = index(refs.tests), index(refs.code)
    files = {
        f"requirements/{stem}.yaml": requirements_yaml(requirements, tests, code)
        for stem, requirements in sorted(by_spec.items())
    }
    files["COMPLIANCE.md"] = compliance_md(by_spec, refs, load_measurements(root))
    known = {r.id for rs in by_spec.values() for r in rs}
    return Extraction(files, unknown_ids(known, refs.tests))


def stale_files(root: Path, files: dict[str, str]) -> list[str]:
    """Generated paths whose committed copy differs, is missing, or is no longer generated."""
    stale = [rel for rel, text in files.items() if _read(root / rel) != text]
    stale.extend(
        path.relative_to(root).as_posix()
        for path in (root / "requirements").glob("*.yaml")
        if path.relative_to(root).as_posix() not in files
    )
    return sorted(stale)


def write_files(root: Path, files: dict[str, str]) -> list[str]:
    """Write changed files and remove requirement files no spec produces any more; returns what changed."""
    changed = stale_files(root, files)
    for rel in changed:
        target = root / rel
        if rel in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[rel], encoding="utf-8")
        else:
            target.unlink()
    return changed


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None
