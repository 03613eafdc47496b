"""`python -m bench` (what `make bench` runs): the side-by-side benchmark of orchestratord and the engine.

Phases: relay (direct / OrchQueue v1 / OpenAI facade at each concurrency, interleaved in rounds), admission
and queue flood, the shared state (embedded vs Redis-backed relay, admission on Redis, bytes in Redis), and
the orchestrator_core queue benchmark. Writes `bench/results/<date>.json` and
`<date>.png`, and rewrites the generated table of bench/README.md from the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.admission import run_admission
from bench.machine import describe, load_average
from bench.plan import Plan, quick_plan
from bench.plot import plot
from bench.processes import python_argv, taskset_path
from bench.relay import run_relay, summarize
from bench.report import targets, update_readmes
from bench.shared_phase import run_shared
from bench.stack import (
    ENGINE_CORE,
    LOADGEN_CORE,
    ORCHESTRATORD_CORE,
    DaemonSettings,
    EngineSettings,
    LoadGenerator,
    running_stack,
)

RESULTS = Path(__file__).parent / "results"
CORE_BENCH_CORE = 1


def progress(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def pinning() -> dict[str, int] | None:
    if taskset_path() is None:
        return None
    return {
        "orchestratord": ORCHESTRATORD_CORE,
        "mock engine": ENGINE_CORE,
        "load generator": LOADGEN_CORE,
        "core benchmark": CORE_BENCH_CORE,
    }


def run_core(ops: int) -> dict[str, Any]:
    """bench/core_bench.py through bench.core_phase, pinned to one core."""
    taskset = taskset_path()
    pinned = [taskset, "-c", str(CORE_BENCH_CORE)] if taskset else []
    done = subprocess.run(
        [*pinned, *python_argv("-m", "bench.core_phase", str(ops))],
        capture_output=True,
        check=True,
        timeout=300,
    )
    results: dict[str, Any] = orjson.loads(done.stdout)
    return results


@contextlib.contextmanager
def log_directory(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="orchqueue-bench-") as tmp:
        yield Path(tmp)


def run(plan: Plan, out_dir: Path, keep_logs: Path | None = None) -> tuple[dict[str, Any], Path]:
    """Runs every phase; returns the results and the path of the JSON file written."""
    started = datetime.now(UTC)
    clock = time.monotonic()
    load_before = load_average()
    with log_directory(keep_logs) as log_dir:
        loadgen = LoadGenerator(log_dir)
        try:
            progress("relay phase: mock engine, orchestratord and load generator started")
            engine = EngineSettings(wire=plan.wire)
            with running_stack(log_dir, "relay", engine, DaemonSettings()) as stack:
                cells = run_relay(plan, loadgen, stack, progress)
                restarts = stack.restarts
            progress("admission phase")
            admission = run_admission(plan, loadgen, log_dir, progress)
            progress("shared phase")
            shared = run_shared(plan, loadgen, log_dir, progress)
        finally:
            loadgen.stop()
    progress("core queue benchmark")
    core = run_core(plan.core_ops)
    results: dict[str, Any] = {
        "schema": "orchqueue-bench/1",
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - clock, 1),
        "machine": describe(pinning()),
        "load_average": {"before": load_before, "after": load_average()},
        "plan": plan.to_json(),
        "arms": summarize(cells),
        "relay_daemon_restarts": restarts,
        "admission": admission,
        "shared": shared,
        "core": core,
    }
    results["targets"] = targets(results)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{started.date().isoformat()}.json"
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    plot(results, path.with_suffix(".png"))
    return results, path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run of every phase (seconds)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--cell-s", type=float, help="seconds per arm and concurrency in a round (default 3)")
    parser.add_argument("--concurrency", help="comma-separated levels (default 1,16,64,256)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON and PNG go")
    parser.add_argument("--no-readme", action="store_true", help="leave bench/README.md as it is")
    parser.add_argument("--keep-logs", type=Path, help="keep the child processes' logs and configs here")
    return parser.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    plan = quick_plan() if args.quick else Plan()
    if args.rounds is not None:
        plan = replace(plan, rounds=args.rounds)
    if args.cell_s is not None:
        plan = replace(plan, cell_s=args.cell_s)
    if args.concurrency:
        plan = replace(plan, concurrency=tuple(int(c) for c in args.concurrency.split(",")))
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results, path = run(plan_from(args), args.out, args.keep_logs)
    if not args.no_readme:
        update_readmes(results, f"bench/results/{path.name}")
    progress(f"wrote {path} and {path.with_suffix('.png').name}")
    for row in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[row["met"]]
        progress(f"{row['id']} {row['name']}: {row['measured']} {row['unit']} ({row['target']}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
