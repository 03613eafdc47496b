"""Read the recorded real-model gate measurements (`test_harness/measurements/*.json`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator_core.errors import InvalidParams


class Measurement(BaseModel):
    """One measured pass rate of a real-model gate on one model."""

    # A gate may record more detail (its configuration, gate runs); COMPLIANCE.md shows the fixed fields.
    model_config = ConfigDict(extra="ignore", frozen=True)

    gate: str
    model: str
    attempts: int = Field(ge=0)
    passes: int = Field(ge=0)
    per_attempt_pass_rate: float = Field(ge=0.0, le=1.0)
    measured_on: str
    notes: str


def load_measurements(root: Path) -> list[tuple[str, Measurement]]:
    """(file, measurement) for every measurement file, sorted by file path.

    Raises:
        InvalidParams: a file is not a valid measurement (the message names the file and field).
    """
    loaded: list[tuple[str, Measurement]] = []
    for path in sorted((root / "test_harness" / "measurements").glob("*.json")):
        display = path.relative_to(root).as_posix()
        try:
            loaded.append((display, Measurement.model_validate_json(path.read_bytes())))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidParams(f"{display}: {problems}") from exc
    return loaded
