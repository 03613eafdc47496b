"""Generates `contracts/api_types/*.py` from `contracts/openapi/*.yaml` with datamodel-code-generator.

The options make request models strict (ORCH-1002): `--strict-types` refuses coercion ("1" is not an int,
1.0 is not an int, true is not a number), `additionalProperties: false` becomes `extra="forbid"`,
`--use-missing-sentinel` keeps "absent" apart from `null` so a field the schema does not declare nullable
refuses `null`, and `--generate-schema-validators` turns `oneOf` of `required` groups (exactly one of
prompt/messages) into a model validator. Response models get the same field types, which only matters
when they are built from the wrong types; unknown fields in responses are ignored.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_DIR = Path("contracts/openapi")
API_TYPES_DIR = Path("contracts/api_types")
CONTRACTS = ("data", "control", "pool")

_HEADER = "# Generated from {spec} by `python -m tools.regen`; edit the contract, never this file."

_OPTIONS = (
    "--input-file-type=openapi",
    "--output-model-type=pydantic_v2.BaseModel",
    "--target-python-version=3.11",
    "--target-pydantic-version=2.14",
    "--formatters=builtin",
    "--use-double-quotes",
    "--disable-timestamp",
    "--ignore-pyproject",
    "--use-annotated",
    "--field-constraints",
    "--use-standard-collections",
    "--use-union-operator",
    "--enum-field-as-literal=all",
    "--use-type-alias",
    "--strict-nullable",
    "--use-missing-sentinel",
    "--generate-schema-validators",
    "--strict-types",
    "str",
    "int",
    "float",
    "bool",
)


def generate(spec: Path, output: Path, *, root: Path = REPO_ROOT) -> None:
    """Write the models of one OpenAPI file (`spec`, relative to `root`) to `output`."""
    command = [
        sys.executable,
        "-m",
        "datamodel_code_generator",
        f"--input={spec.as_posix()}",
        f"--output={output}",
        f"--custom-file-header={_HEADER.format(spec=spec.as_posix())}",
        *_OPTIONS,
    ]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"datamodel-codegen failed for {spec}:\n{done.stderr}")


def regenerate(check: bool, *, root: Path = REPO_ROOT) -> list[str]:
    """Regenerate every API types module; return the stale (check) or rewritten files, relative to root."""
    changed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="api_types_") as scratch:
        for name in CONTRACTS:
            fresh = Path(scratch) / f"{name}.py"
            generate(OPENAPI_DIR / f"{name}.yaml", fresh, root=root)
            target = root / API_TYPES_DIR / f"{name}.py"
            text = fresh.read_text(encoding="utf-8")
            if target.is_file() and target.read_text(encoding="utf-8") == text:
                continue
            changed.append((API_TYPES_DIR / f"{name}.py").as_posix())
            if not check:
                target.write_text(text, encoding="utf-8")
    return changed
