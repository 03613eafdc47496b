"""`python -m bench.profile SCENARIO`: where orchestratord's CPU time goes under one benchmark load.

Scenarios: `v1` and `openai` (64 streams of the relay phase), `admission` (POST /v1/tasks into a queue
that is not drained), `flood` (POST /v1/tasks against a full queue). The stack is the benchmark's
(pinned the same way); py-spy samples the orchestratord process while the load generator runs, and the
samples are folded into the functions with the most exclusive ("self") and inclusive time. Writes
`bench/results/profile-<scenario>.txt` (the table) and `.folded` (the raw stacks, for flame graphs).

Needs py-spy (`pip install py-spy`) and permission to attach to a process (root, or ptrace allowed).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.admission import NEVER_MS, hold_the_slot
from bench.stack import HOST, MODEL_REF, DaemonSettings, EngineSettings, LoadGenerator, Stack, running_stack
from test_harness.redis_server import redis_server

RESULTS = Path(__file__).parent / "results"
SCENARIOS = ("v1", "openai", "admission", "flood")
PROFILER_CORE = 0


def fold(folded: str) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, self samples per function, inclusive samples per function (each once per stack)."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, own, inclusive


def _short(frame: str) -> str:
    """`function (path/to/module.py:line)` -> `function (module path from site-packages or repo)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    path, _, _line = where.rpartition(":")
    return f"{name} ({path or where})"


PROJECT = (
    "orchestratord/",
    "http_edge/",
    "orchestrator_core/",
    "worker_adapters/",
    "mock_engine/",
    "contracts/",
)


def package(function: str) -> str:
    """The top-level package (or stdlib module) a folded frame belongs to."""
    where = function.rpartition(" (")[2].rstrip(")")
    head = where.split("/", 1)[0]
    return head.removesuffix(".py") if head else where


def table(total: int, own: Counter[str], inclusive: Counter[str], top: int = 30) -> str:
    """Self time per function and per package, and inclusive time of the project's own functions."""
    by_package: Counter[str] = Counter()
    for name, count in own.items():
        by_package[package(name)] += count
    ours = Counter({name: n for name, n in inclusive.items() if any(p in name for p in PROJECT)})
    lines = [f"samples: {total} (percentages are of all samples)", "", "self %  function"]
    lines += [f"{100 * n / total:6.1f}  {name}" for name, n in own.most_common(top)]
    lines += ["", "self %  package (where the time is spent, summed over its functions)"]
    lines += [f"{100 * n / total:6.1f}  {name}" for name, n in by_package.most_common(top)]
    lines += ["", "inclusive %  project function (time in it and everything it calls)"]
    lines += [f"{100 * n / total:6.1f}  {name}" for name, n in ours.most_common(top)]
    return "\n".join(lines) + "\n"


def _record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    taskset = shutil.which("taskset")
    pinned = [taskset, "-c", str(PROFILER_CORE)] if taskset else []
    argv = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250"]
    argv += ["--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen([*pinned, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass(frozen=True, slots=True)
class Shape:
    """How many streams run at once and how many tokens each asks for (the stream scenarios only)."""

    concurrency: int = 64
    tokens: int = 256


def _load(
    scenario: str, stack: Stack, loadgen: LoadGenerator, seconds: float, shape: Shape
) -> dict[str, Any]:
    target = {"arm": scenario, "host": HOST, "port": stack.daemon_port, "max_tokens": shape.tokens}
    target["model"] = MODEL_REF
    if scenario in ("v1", "openai"):
        command = {"op": "stream", "target": target, "concurrency": shape.concurrency, "duration_s": seconds}
        return loadgen.call(command)
    target["arm"] = "v1"
    return loadgen.call({"op": "post", "target": target, "concurrency": 32, "duration_s": seconds})


def profile(
    scenario: str, seconds: float, out_dir: Path, shape: Shape = Shape(), *, shared: bool = False
) -> Path:
    """`shared`: orchestratord in the shared mode, on a redis-server of the profile's own."""
    with tempfile.TemporaryDirectory(prefix="orchqueue-profile-") as tmp, contextlib.ExitStack() as redis:
        log_dir = Path(tmp)
        queued = scenario in ("admission", "flood")
        engine = EngineSettings(slots=1, ttft_ms=NEVER_MS) if queued else EngineSettings()
        capacity = 200 if scenario == "flood" else 1_000_000
        redis_url = redis.enter_context(redis_server(log_dir / "redis")).url if shared else None
        daemon = DaemonSettings(
            replica_slots=1 if queued else 256,
            queue_capacity=capacity if queued else 1024,
            redis_url=redis_url,
        )
        loadgen = LoadGenerator(log_dir)
        try:
            with running_stack(log_dir, scenario, engine, daemon) as stack:
                if queued:
                    hold_the_slot(f"http://{HOST}:{stack.daemon_port}")
                    if scenario == "flood":
                        _load("admission", stack, loadgen, 1.0, shape)  # fills the queue
                _load(scenario, stack, loadgen, 1.0, shape)  # warm-up
                raw = log_dir / "profile.folded"
                recorder = _record(stack.daemon.pid, seconds, raw)
                answer = _load(scenario, stack, loadgen, seconds + 0.5, shape)
                _, errors = recorder.communicate(timeout=seconds + 30)
                if recorder.returncode != 0:
                    raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')}")
        finally:
            loadgen.stop()
        folded = raw.read_text()
    total, own, inclusive = fold(folded)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / f"profile-{scenario}{'-redis' if shared else ''}.txt"
    summary = {k: v for k, v in answer.items() if k not in ("ttft_ms", "gaps_us", "latency_ms")}
    report.write_text(f"scenario: {scenario}, load: {summary}\n" + table(total, own, inclusive))
    report.with_suffix(".folded").write_text(folded)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--concurrency", type=int, default=64, help="streams at once (v1, openai)")
    parser.add_argument("--tokens", type=int, default=256, help="max_tokens of each stream (v1, openai)")
    parser.add_argument("--redis", action="store_true", help="the shared mode, on a redis-server of its own")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    shape = Shape(args.concurrency, args.tokens)
    print(profile(args.scenario, args.seconds, args.out, shape, shared=args.redis).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
