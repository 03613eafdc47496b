"""`python -m bench.core_phase OPS`: the orchestrator_core queue benchmark (bench/core_bench.py) at depth
10,000 (the target's depth) and 1,000, as one JSON document on stdout; the driver runs it pinned to a core."""

from __future__ import annotations

import sys

import orjson

from bench.core_bench import TARGET_OPS_PER_S, run


def main(argv: list[str]) -> int:
    ops = int(argv[0]) if argv else 400_000
    results: dict[str, object] = {
        "depth_10000": run(depth=10_000, ops=ops),
        "depth_1000": run(depth=1_000, ops=ops),
        "target_ops_per_s": TARGET_OPS_PER_S,
    }
    sys.stdout.write(orjson.dumps(results).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
