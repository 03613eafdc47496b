"""Command line of the metrics lint (ORCH-8004, ORCH-8005); exit status 0 clean, 1 problems, 2 usage."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import httpx

from orchestrator_core.errors import InvalidParams
from tools.metrics_lint.exposition import check_exposition, check_spec_rules
from tools.metrics_lint.load import run_load
from tools.metrics_lint.problems import Problem
from tools.metrics_lint.references import check_queries, collect_queries
from tools.metrics_lint.spec import DAEMON_PREFIXES, MetricsSpec, parse_metrics_spec
from tools.metrics_lint.stack import local_stack

REPO = Path(__file__).resolve().parents[2]


def lint_static(spec: MetricsSpec, spec_path: Path, dashboards: Path, alerts: Path) -> list[Problem]:
    """Spec naming rules plus every dashboard and rule expression."""
    queries, problems = collect_queries(dashboards, alerts)
    if not queries:
        problems.append(Problem(f"{dashboards}, {alerts}", "no dashboard or rule expression found"))
    return check_spec_rules(spec, str(spec_path)) + problems + check_queries(spec, queries)


def lint_scrape(spec: MetricsSpec, daemon: str, target: str) -> list[Problem]:
    """Lints a scrape given as a URL or a file of Prometheus text."""
    if target.startswith(("http://", "https://")):
        text = httpx.get(target, timeout=10).raise_for_status().text
    else:
        text = Path(target).read_text(encoding="utf-8")
    return check_exposition(spec, daemon, text, target)


def lint_stack(spec: MetricsSpec, out: Path, render: bool) -> list[Problem]:
    """Starts the local stack, loads it, lints the last scrape of each daemon, optionally renders."""
    with local_stack(out / "stack") as stack:
        asyncio.run(run_load(stack, out / "scrapes"))
    problems = []
    for daemon in DAEMON_PREFIXES:
        last = sorted((out / "scrapes").glob(f"{daemon}-*.prom"))[-1]
        problems += check_exposition(spec, daemon, last.read_text(encoding="utf-8"), str(last))
    if render:
        from tools.panel_render.render import render_load_panels

        print(f"rendered {render_load_panels(out / 'scrapes', out / 'panels.png')}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.metrics_lint", description=__doc__)
    parser.add_argument("--spec", type=Path, default=REPO / ".specs/metrics/otel-prom.md")
    parser.add_argument("--dashboards", type=Path, default=REPO / "ci/dashboards")
    parser.add_argument("--alerts", type=Path, default=REPO / "ci/alerts")
    parser.add_argument(
        "--scrape",
        action="append",
        default=[],
        metavar="DAEMON=URL|FILE",
        help="lint a scrape of orchestratord or pool_managerd (repeatable)",
    )
    parser.add_argument("--run-stack", action="store_true", help="start both daemons, load, scrape, lint")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts/metrics_lint")
    parser.add_argument("--render", action="store_true", help="with --run-stack: write panels.png")
    args = parser.parse_args(argv)
    try:
        spec = parse_metrics_spec(args.spec)
    except (InvalidParams, OSError) as exc:
        print(f"metrics_lint: {exc}", file=sys.stderr)
        return 2
    problems = lint_static(spec, args.spec, args.dashboards, args.alerts)
    for item in args.scrape:
        daemon, _, target = item.partition("=")
        if daemon not in DAEMON_PREFIXES or not target:
            parser.error(f"--scrape {item!r}: use orchestratord=... or pool_managerd=...")
        problems += lint_scrape(spec, daemon, target)
    if args.run_stack:
        problems += lint_stack(spec, args.out, args.render)
    for problem in problems:
        print(problem)
    print(f"metrics_lint: {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
