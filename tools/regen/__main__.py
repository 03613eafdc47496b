"""Command line: `python -m tools.regen [--check]` regenerates the API types and the config JSON schema."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from tools.regen import api_types

_CONFIG_SCHEMA_MODULE = "tools.regen.config_schema"


def _config_schema_regenerate() -> Callable[[bool], list[str]] | None:
    """The config schema step, when its module is present in this checkout."""
    try:
        module = importlib.import_module(_CONFIG_SCHEMA_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != _CONFIG_SCHEMA_MODULE:
            raise
        return None
    step: Callable[[bool], list[str]] = module.regenerate
    return step


def main(argv: list[str] | None = None) -> int:
    """Regenerate; with `--check` write nothing and exit 1 when a generated file is stale."""
    parser = argparse.ArgumentParser(prog="python -m tools.regen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; fail when files are stale")
    args = parser.parse_args(argv)
    check: bool = args.check
    changed = api_types.regenerate(check)
    config_schema = _config_schema_regenerate()
    if config_schema is not None:
        changed += config_schema(check)
    for path in changed:
        if check:
            print(f"stale: {path} (run `make regen`)", file=sys.stderr)
        else:
            print(f"wrote {path}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
