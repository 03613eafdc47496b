"""Targets met or missed, and the performance table of bench/README.md, both read from a results file.

`python -m bench.report bench/results/<date>.json` rewrites the generated part of bench/README.md (between
the two markers) from that file, so the README's figures are always the file's figures.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

README = Path(__file__).parent / "README.md"
PROJECT_README = Path(__file__).parents[1] / "README.md"
RESULTS = Path(__file__).parent / "results"
START = "<!-- bench:generated:start -->"
END = "<!-- bench:generated:end -->"
ORCHESTRATED = ("v1", "openai")
ARM_NAMES = {
    "direct": "direct to engine",
    "v1": "OrchQueue v1 (POST + SSE)",
    "openai": "OpenAI /v1/completions",
}


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of ORCH-9203..9208 with the measured figure and whether it holds."""
    arms = results.get("arms", {})
    rows: list[dict[str, Any]] = []
    for arm in ORCHESTRATED:
        if arm not in arms:
            continue
        rate = _get(arms, arm, "64", "tokens_per_s")
        rows.append(_row("ORCH-9203", f"relay at 64 streams ({arm})", rate, ">=", 25_000, "tokens/s"))
        added = _get(arms, arm, "1", "added_ttft_ms", "p50")
        row = _row("ORCH-9204", f"added TTFT p50 at concurrency 1 ({arm})", added, "<=", 2.0, "ms")
        if added is not None and added < 0:
            # The direct arm was the slower one: the difference says nothing about orchestratord's cost.
            row["met"] = None
            row["name"] += ", not judged: direct arm slower"
        rows.append(row)
    phase = results.get("admission", {})
    rows.append(
        _row("ORCH-9205", "admission", _get(phase, "admission", "tasks_per_s"), ">=", 1_500, "tasks/s")
    )
    rows.append(
        _row(
            "ORCH-9206",
            _flood_target_name(phase),
            _get(phase, "flood", "latency_429_ms", "p99"),
            "<=",
            5.0,
            "ms",
        )
    )
    memory = _get(phase, "memory", "bytes_per_queued_task")
    rows.append(_row("ORCH-9207", "memory per queued task", memory, "<=", 4_096, "bytes"))
    core = _get(results, "core", "depth_10000", "ops_per_s")
    rows.append(_row("ORCH-9208", "core queue mix at depth 10,000", core, ">=", 200_000, "ops/s"))
    if "shared" in results:
        shared = results["shared"]
        ratio = _get(shared, "relay", "redis, 1 instance", "vs_embedded")
        name = f"relay on Redis with 1 instance vs embedded, {shared.get('concurrency')} streams"
        rows.append(_row("ORCH-4116", name, ratio, ">=", 0.8, "x"))
    return rows


def _flood_target_name(phase: dict[str, Any]) -> str:
    flood = phase.get("flood", {})
    if flood.get("loop") != "open":  # results from before the open-loop flood: closed loop
        return "429 p99 under flood"
    return (
        f"429 p99 under flood, open loop at {_num(flood.get('offered_per_s'))} requests/s "
        f"from {flood.get('concurrency')} connections"
    )


def _row(req: str, name: str, measured: float | None, op: str, target: float, unit: str) -> dict[str, Any]:
    met = None if measured is None else measured >= target if op == ">=" else measured <= target
    return {
        "id": req,
        "name": name,
        "measured": measured,
        "target": f"{op} {target:g}",
        "unit": unit,
        "met": met,
    }


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def _ratio(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _failed(cell: dict[str, Any]) -> str:
    requests, failed = int(cell.get("requests") or 0), int(cell.get("failed") or 0)
    return f"{100 * failed / requests:.0f}%" if requests else "-"


def relay_table(results: dict[str, Any]) -> list[str]:
    arms = results.get("arms", {})
    lines = [
        "| concurrency | arm | requests/s (failed) | tokens/s | tokens/s vs direct | TTFT p50 ms "
        "| added TTFT p50 / p99 ms | inter-token gap p99 ms | orchestratord CPU s / 1k tokens "
        "| orchestratord RSS MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    levels = sorted({int(c) for by_level in arms.values() for c in by_level})
    for level in levels:
        for arm in ("direct", *ORCHESTRATED):
            cell = _get(arms, arm, str(level))
            if cell is None:
                continue
            added = cell.get("added_ttft_ms") or {}
            daemon = cell.get("orchestratord") or {}
            ratio = _get(cell, "ratio_to_direct", "tokens_per_s")
            lines.append(
                f"| {level} | {ARM_NAMES[arm]} | {_num(cell['requests_per_s'], 1)} ({_failed(cell)}) "
                f"| {_num(cell['tokens_per_s'])} "
                f"| {'1.00x' if arm == 'direct' else _ratio(ratio)} | {_num(cell['ttft_ms']['p50'], 2)} "
                f"| {_num(added.get('p50'), 2)} / {_num(added.get('p99'), 2)} "
                f"| {_num(cell['inter_token_gap_ms']['p99'], 2)} "
                f"| {_num(daemon.get('cpu_s_per_1k_tokens'), 4)} | {_num(daemon.get('rss_mib_max'), 1)} |"
            )
    return lines


def targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["| requirement | target | measured | met |", "|---|---|---:|:---:|"]
    for row in targets(results):
        verdict = {True: "yes", False: "**no**", None: "-"}[row["met"]]
        digits = 2 if row["unit"] in ("ms", "x") else 0
        lines.append(
            f"| {row['id']} {row['name']} | {row['target']} {row['unit']} "
            f"| {_num(row['measured'], digits)} {row['unit']} | {verdict} |"
        )
    return lines


def flood_text(phase: dict[str, Any]) -> str:
    """The queue flood sentence: open-loop latency by offered rate, then the closed-loop capacity."""
    flood = phase.get("flood", {})
    one = _get(phase, "flood_by_connections", "1") or {}
    if flood.get("loop") != "open":  # results from before the open-loop flood
        return (
            f"queue flood (capacity {_num(flood.get('queue_capacity'))}, {flood.get('concurrency')} "
            f"connections): {_num(flood.get('requests_per_s'))} requests/s, 429 p50 / p99 "
            f"{_num(_get(flood, 'latency_429_ms', 'p50'), 2)} / "
            f"{_num(_get(flood, 'latency_429_ms', 'p99'), 2)} ms (from one connection, without queueing: "
            f"{_num(_get(one, 'latency_429_ms', 'p99'), 2)} ms)."
        )
    rates = "; ".join(
        f"{_num(cell.get('offered_per_s'))}/s: {_num(_get(cell, 'latency_429_ms', 'p50'), 2)} / "
        f"{_num(_get(cell, 'latency_429_ms', 'p99'), 2)} ms"
        for cell in (phase.get("flood_open_loop") or {}).values()
    )
    closed = _get(phase, "flood_by_connections", str(max(int(c) for c in phase["flood_by_connections"])))
    connections = int(closed["concurrency"])
    capacity = float(closed["requests_per_s"])
    return (
        f"queue flood (capacity {_num(flood.get('queue_capacity'))}, every request a 429). Open loop "
        f"(requests paced at a fixed rate over {flood.get('concurrency')} connections, latency from "
        f"the scheduled send time), 429 p50 / p99 by offered rate: {rates}. Closed loop (each connection "
        f"sends again when answered: the 429 capacity) from {connections} connections: "
        f"{_num(capacity)} requests/s, p99 {_num(_get(closed, 'latency_429_ms', 'p99'), 2)} ms, which is "
        f"Little's law at saturation ({connections} / {_num(capacity)} per s = "
        f"{_num(1000 * connections / capacity, 1)} ms); from one connection: p99 "
        f"{_num(_get(one, 'latency_429_ms', 'p99'), 2)} ms, orchestratord CPU "
        f"{_num(one.get('cpu_ms_per_request'), 3)} ms per 429."
    )


def shared_lines(shared: dict[str, Any] | None) -> list[str]:
    """The shared phase (bench/shared_phase.py) as one paragraph; nothing for results without it."""
    if not shared:
        return []
    relay = shared.get("relay", {})
    arms = "; ".join(
        f"{name}: {_num(figures.get('tokens_per_s'))} tokens/s ({_num(figures.get('vs_embedded'), 2)}x)"
        for name, figures in relay.items()
    )
    admission = shared.get("admission", {})
    stored = shared.get("bytes", {})
    post_p99 = _num(_get(admission, "latency_ms", "p99"), 2)
    flood_p99 = _num(_get(admission, "flood", "latency_429_ms", "p99"), 2)
    return [
        f"Shared state (Redis on this machine, OrchQueue v1 at {shared.get('concurrency')} streams, rounds "
        f"interleaved): {arms}. Admission on Redis: {_num(admission.get('tasks_per_s'))} tasks/s from "
        f"{admission.get('concurrency')} connections, POST p99 {post_p99} ms; 429 p99 {flood_p99} ms under a "
        f"closed-loop flood from {_get(admission, 'flood', 'concurrency')} connections. Bytes in Redis: "
        f"{_num(stored.get('bytes_per_queued_task'))} per queued task, "
        f"{_num(stored.get('bytes_per_retained_task'))} per ended task kept for the retention "
        f"({stored.get('tokens')} tokens).",
        "",
    ]


def generated_section(results: dict[str, Any], source: str) -> str:
    machine = results.get("machine", {})
    plan = results.get("plan", {})
    phase = results.get("admission", {})
    pinning = machine.get("pinning")
    pins = (
        ", ".join(f"{name} on core {core}" for name, core in pinning.items())
        if pinning
        else "no pinning (taskset missing or one core)"
    )
    load = results.get("load_average", {})
    core = results.get("core", {})
    lines = [
        START,
        f"Latest run: `{source}` ({results.get('started_at', '?')}, {results.get('duration_s', '?')} s).",
        "",
        f"Machine: {machine.get('cores')} cores, {machine.get('cpu_model')}, "
        f"{machine.get('memory_gib')} GiB, {machine.get('os')}, Python {machine.get('python')}; {pins}. "
        "Load average before/after the run: "
        f"{load.get('before')} / {load.get('after')} (other work on the machine lowers every figure).",
        "",
        f"Mock engine `{plan.get('wire')}` wire, zero TTFT and zero token delay, "
        f"{plan.get('max_tokens')} tokens per request; {plan.get('rounds')} interleaved rounds of "
        f"{plan.get('cell_s')} s per cell. orchestratord restarts during the relay phase (it was stuck "
        f"unready before a cell): {results.get('relay_daemon_restarts', 0)}.",
        "",
        *relay_table(results),
        "",
        f"Admission ({_get(phase, 'method')}): {_num(_get(phase, 'admission', 'tasks_per_s'))} tasks/s "
        f"from {_get(phase, 'admission', 'concurrency')} connections, POST p99 "
        f"{_num(_get(phase, 'admission', 'latency_ms', 'p99'), 2)} ms; memory per queued task "
        f"{_num(_get(phase, 'memory', 'bytes_per_queued_task'))} bytes over "
        f"{_num(_get(phase, 'memory', 'queued_tasks'))} tasks; {flood_text(phase)}",
        "",
        *shared_lines(results.get("shared")),
        f"Core queue (`bench/core_bench.py`, one core): {_num(_get(core, 'depth_10000', 'ops_per_s'))} ops/s "
        f"at depth 10,000, {_num(_get(core, 'depth_1000', 'ops_per_s'))} ops/s at depth 1,000.",
        "",
        *targets_table(results),
        END,
    ]
    return "\n".join(lines)


def update_readme(results: dict[str, Any], source: str, readme: Path = README) -> None:
    """Replaces the generated section of `readme` (appends it when the markers are missing)."""
    section = generated_section(results, source)
    text = readme.read_text() if readme.exists() else ""
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        text = head + section + tail
    else:
        text = text.rstrip() + ("\n\n" if text else "") + section + "\n"
    readme.write_text(text)


def update_readmes(results: dict[str, Any], source: str) -> None:
    """The generated section of bench/README.md and of the project README, from one results file."""
    for readme in (README, PROJECT_README):
        update_readme(results, source, readme)


def latest_results() -> Path | None:
    """The newest `bench/results/<date>.json`, if any."""
    files = sorted(RESULTS.glob("*.json"))
    return files[-1] if files else None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m bench.report bench/results/<date>.json\n")
        return 2
    path = Path(argv[0])
    results = orjson.loads(path.read_bytes())
    results["targets"] = targets(results)  # the verdicts follow the current rules; figures are unchanged
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    update_readmes(results, f"bench/results/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
