"""Command line: `python -m tools.spec_extract [--check] [--root DIR]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator_core.errors import InvalidParams
from tools.spec_extract.extract import extract, stale_files, write_files

_REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    """Run the extractor; the exit status is 1 when `--check` finds stale files or unknown test IDs."""
    parser = argparse.ArgumentParser(prog="python -m tools.spec_extract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; fail when files are stale")
    parser.add_argument("--root", type=Path, default=_REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        result = extract(root)
    except InvalidParams as exc:
        print(f"spec_extract: {exc.message}", file=sys.stderr)
        return 1
    for req_id, where in sorted(result.unknown_test_ids.items()):
        print(f"unknown requirement {req_id} referenced by: {', '.join(where)}", file=sys.stderr)
    if not args.check:
        for rel in write_files(root, result.files):
            print(f"wrote {rel}")
        return 0
    stale = stale_files(root, result.files)
    for rel in stale:
        print(f"stale: {rel} (run `make regen`)", file=sys.stderr)
    return 1 if stale or result.unknown_test_ids else 0


if __name__ == "__main__":
    sys.exit(main())
