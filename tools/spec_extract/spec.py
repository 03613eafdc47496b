"""Parse requirement bullets (`- **ORCH-NNNN** text`, `- **ORCH-NNNN-DEPR** text`) out of markdown specs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from orchestrator_core.errors import InvalidParams
from tools.spec_extract.model import Level, Requirement

_BULLET = re.compile(r"^\s*[-*]\s+\*\*(?P<id>ORCH-\d{4})(?P<depr>-DEPR)?\*\*\s*(?P<text>.*?)\s*$")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
# Strongest first: the first level whose keywords occur in the line wins.
_KEYWORDS: tuple[tuple[Level, re.Pattern[str]], ...] = (
    ("MUST", re.compile(r"\b(MUST|SHALL|REQUIRED)\b")),
    ("SHOULD", re.compile(r"\b(SHOULD|RECOMMENDED)\b")),
    ("MAY", re.compile(r"\b(MAY|OPTIONAL)\b")),
)


def level_of(text: str) -> Level | None:
    """The strongest RFC-2119 keyword in `text` (MUST NOT counts as MUST, SHOULD NOT as SHOULD)."""
    for level, pattern in _KEYWORDS:
        if pattern.search(text):
            return level
    return None


def parse_spec(path: Path, display: str) -> list[Requirement]:
    """Every requirement bullet of one spec file, in file order.

    Raises:
        InvalidParams: a live requirement has no RFC-2119 keyword (`display:line` names it).
    """
    section = ""
    found: list[Requirement] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            section = heading["title"]
            continue
        bullet = _BULLET.match(line)
        if not bullet:
            continue
        deprecated = bullet["depr"] is not None
        level = level_of(bullet["text"])
        if level is None:
            if not deprecated:
                raise InvalidParams(f"{display}:{number}: {bullet['id']} has no RFC-2119 keyword")
            level = "MAY"
        found.append(Requirement(bullet["id"], bullet["text"], level, section, deprecated, path.stem))
    return found


def spec_files(specs_dir: Path) -> list[Path]:
    """The markdown files under `specs_dir`, top level and nested, in a stable order."""
    return sorted(specs_dir.rglob("*.md"))


def collect_requirements(specs_dir: Path, root: Path) -> dict[str, list[Requirement]]:
    """Requirements per spec stem, only for files that define any.

    Raises:
        InvalidParams: an ID is defined twice, two spec files share a stem, or no requirement exists.
    """
    by_stem: dict[str, list[Requirement]] = {}
    origin: dict[str, str] = {}
    for path in spec_files(specs_dir):
        display = path.relative_to(root).as_posix()
        requirements = parse_spec(path, display)
        if not requirements:
            continue
        if path.stem in by_stem:
            raise InvalidParams(f"{display}: another spec file already uses the name {path.stem!r}")
        _reject_duplicates(requirements, display, origin)
        by_stem[path.stem] = requirements
    if not by_stem:
        raise InvalidParams(f"{specs_dir.relative_to(root).as_posix()}: no ORCH-NNNN requirement found")
    return by_stem


def _reject_duplicates(requirements: Iterable[Requirement], display: str, origin: dict[str, str]) -> None:
    for requirement in requirements:
        if requirement.id in origin:
            first = origin[requirement.id]
            raise InvalidParams(f"{display}: duplicate requirement {requirement.id}, first in {first}")
        origin[requirement.id] = display
