"""`python -m bench.ttft`: added time to first token at concurrency 1, orchestratord builds side by side.

One mock engine (zero TTFT, in its own process) serves every arm: `direct` to the engine, and `v1` and
`openai` through one orchestratord per source tree given with `--tree NAME=PATH` (default: this tree as
`head`), so a change can be compared with the code before it in one run on the same (shared, noisy)
machine. Cells of `--cell-s` seconds run in rounds whose order rotates, each arm sending requests back to
back from one connection; the figures are p50/p99 of every request's time to first token and those minus
the direct arm's, with the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from bench.machine import load_average
from bench.processes import Child, free_port, python_argv, wait_http
from bench.stack import (
    ENGINE_CORE,
    HOST,
    MODEL_REF,
    ORCHESTRATORD_CORE,
    DaemonSettings,
    EngineSettings,
    LoadGenerator,
    daemon_config,
)
from bench.stats import percentile

# Runs orchestratord's own entry point with a given source tree first on the import path.
_LAUNCH = (
    "import runpy, sys; sys.path.insert(0, sys.argv[1]); sys.argv = ['orchestratord', *sys.argv[2:]]; "
    "runpy.run_module('orchestratord', run_name='__main__')"
)


@contextlib.contextmanager
def _children(log_dir: Path, trees: dict[str, Path], tokens: int) -> Iterator[tuple[int, dict[str, int]]]:
    engine_port = free_port()
    started: list[Child] = []
    try:
        argv = [
            "-m",
            "mock_engine",
            "--wire",
            "llamacpp",
            "--port",
            str(engine_port),
            "--slots",
            "256",
            "--ctx",
            "8192",
        ]
        argv += ["--model-id", MODEL_REF, "--ttft-ms", "0", "--token-delay-ms", "0"]
        engine = Child("engine", python_argv(*argv), core=ENGINE_CORE, log_path=log_dir / "engine.log")
        started.append(engine)
        wait_http(f"http://{HOST}:{engine_port}/health", engine)
        ports: dict[str, int] = {}
        for name, tree in trees.items():
            port = free_port()
            config = daemon_config(port, engine_port, EngineSettings(), DaemonSettings())
            config_path = log_dir / f"{name}.yaml"
            config_path.write_text(yaml.safe_dump(config))
            daemon = Child(
                name,
                python_argv("-c", _LAUNCH, str(tree), "--config", str(config_path)),
                core=ORCHESTRATORD_CORE,
                log_path=log_dir / f"{name}.log",
            )
            started.append(daemon)
            wait_http(f"http://{HOST}:{port}/readyz", daemon)
            ports[name] = port
        yield engine_port, ports
    finally:
        for child in reversed(started):
            child.stop()


def measure(trees: dict[str, Path], rounds: int, cell_s: float, tokens: int, concurrency: int = 1) -> str:
    with tempfile.TemporaryDirectory(prefix="orchqueue-ttft-") as tmp:
        loadgen = LoadGenerator(Path(tmp))
        try:
            with _children(Path(tmp), trees, tokens) as (engine_port, ports):
                cells: list[tuple[str, str, int]] = [("direct", "direct", engine_port)]
                for name, port in ports.items():
                    cells += [(f"v1 {name}", "v1", port), (f"openai {name}", "openai", port)]
                samples: dict[str, list[float]] = {label: [] for label, _, _ in cells}
                relayed: dict[str, list[float]] = {label: [0.0, 0.0] for label, _, _ in cells}
                before = load_average()
                for round_index in range(rounds + 1):  # round 0 is the warm-up
                    shift = round_index % len(cells)
                    for label, arm, port in cells[shift:] + cells[:shift]:
                        target = {"arm": arm, "host": HOST, "port": port, "max_tokens": tokens}
                        target["model"] = MODEL_REF
                        command = {
                            "op": "stream",
                            "target": target,
                            "concurrency": concurrency,
                            "duration_s": cell_s,
                        }
                        answer = loadgen.call(command)
                        if answer["failed"]:
                            raise RuntimeError(f"{label}: {answer['errors']}")
                        if round_index:
                            samples[label].extend(answer["ttft_ms"])
                            relayed[label][0] += answer["tokens"]
                            relayed[label][1] += answer["elapsed_s"]
                after = load_average()
        finally:
            loadgen.stop()
    return _table(samples, relayed, before, after)


def _table(
    samples: dict[str, list[float]], relayed: dict[str, list[float]], before: list[float], after: list[float]
) -> str:
    direct50 = percentile(samples["direct"], 0.5) or 0.0
    direct99 = percentile(samples["direct"], 0.99) or 0.0
    lines = [
        f"load average before {before} after {after}",
        "arm            n  tokens/s   p50 ms  p99 ms  added p50/p99",
    ]
    for label, values in samples.items():
        p50, p99 = percentile(values, 0.5) or 0.0, percentile(values, 0.99) or 0.0
        added = "" if label == "direct" else f"{p50 - direct50:6.2f} / {p99 - direct99:6.2f}"
        tokens, elapsed = relayed[label]
        rate = tokens / elapsed if elapsed else 0.0
        lines.append(f"{label:<12} {len(values):6d} {rate:9,.0f}  {p50:6.2f}  {p99:6.2f}  {added}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ttft", description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH of an orchestratord tree")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cell-s", type=float, default=2.0)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=1, help="streams at once (1 for the TTFT target)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    trees = {"head": Path(__file__).resolve().parent.parent}
    if args.tree:
        trees = {name: Path(path).resolve() for name, _, path in (t.partition("=") for t in args.tree)}
    print(measure(trees, args.rounds, args.cell_s, args.tokens, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
