"""Value types shared by the extractor's parsing and rendering steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Level = Literal["MUST", "SHOULD", "MAY"]
LEVELS: tuple[Level, ...] = ("MUST", "SHOULD", "MAY")


@dataclass(frozen=True)
class Requirement:
    """One `ORCH-NNNN` bullet of a spec file."""

    id: str
    text: str
    level: Level
    section: str
    deprecated: bool
    spec: str  # stem of the spec file that defines it, e.g. "orchestrator-spec"


@dataclass(frozen=True)
class Reference:
    """A place that names a requirement: a test node id or a `path:line` in code."""

    req_id: str
    where: str


@dataclass
class References:
    """Every reference found in the repository, split by kind."""

    tests: list[Reference] = field(default_factory=list)
    code: list[Reference] = field(default_factory=list)
