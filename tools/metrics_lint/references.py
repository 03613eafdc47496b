"""Metrics named by dashboards and alert rules (ORCH-8004, ORCH-8005).

Every PromQL expression of `ci/dashboards/*.json` (panel targets, also inside rows, and query variables)
and `ci/alerts/*.yaml` (recording and alerting rules) is parsed with `promql-parser` (the Rust parser of
the Prometheus grammar); each vector selector must name a metric of the spec (histograms also through
`_bucket`, `_sum`, `_count`) or a declared external metric, and its label matchers may only use the
metric's labels (plus `le` on buckets and the scrape's target labels).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from tools.metrics_lint.problems import Problem
from tools.metrics_lint.spec import MetricsSpec

# Series that other exporters provide; panels may use them, the spec does not define them.
EXTERNAL_METRICS: dict[str, frozenset[str]] = {
    "DCGM_FI_DEV_GPU_UTIL": frozenset({"gpu", "UUID", "device", "modelName", "Hostname", "pci_bus_id"}),
    "DCGM_FI_DEV_FB_USED": frozenset({"gpu", "UUID", "device", "modelName", "Hostname", "pci_bus_id"}),
    "DCGM_FI_DEV_FB_FREE": frozenset({"gpu", "UUID", "device", "modelName", "Hostname", "pci_bus_id"}),
}
# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
# Grafana's interval variables become a fixed duration so the expression parses as PromQL.
_GRAFANA_INTERVALS = re.compile(r"\$\{?__(rate_interval|interval|range)\}?")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<query>.+?)\s*,\s*(?P<label>[a-zA-Z_]\w*)\s*\)\s*$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it was found."""

    source: str
    expr: str


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries(path: Path) -> list[Query]:
    """Every PromQL expression of a Grafana dashboard file."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    found = [
        Query(
            f"{path.name}: panel {panel.get('title', panel.get('id'))!r} {target.get('refId')}",
            target["expr"],
        )
        for panel in _panels(doc.get("panels", []))
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in doc.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query)
        match = _LABEL_VALUES.match(text)
        found.append(
            Query(f"{path.name}: variable {variable.get('name')!r}", match["query"] if match else text)
        )
    return found


def rule_queries(path: Path) -> list[Query]:
    """Every expression of a Prometheus rule file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            found.append(Query(f"{path.name}: {group.get('name')}/{name}", str(rule.get("expr", ""))))
    return found


def grafana_to_promql(expr: str) -> str:
    """The expression with Grafana's interval variables replaced by a duration."""
    return _GRAFANA_INTERVALS.sub("5m", expr)


def selectors(expr: str) -> list[tuple[str | None, frozenset[str]]]:
    """(metric name, matcher label names) of every vector selector; raises ValueError if unparsable."""
    tree = promql_parser.parse(grafana_to_promql(expr))
    found: list[tuple[str | None, frozenset[str]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            labels = {m.name for m in node.matchers.matchers}
            name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), None)
            found.append((name, frozenset(labels - {"__name__"})))

    promql_parser.walk(tree, visit)
    return found


class _Names:
    """Which series names resolve to which allowed label set."""

    def __init__(self, spec: MetricsSpec, external: dict[str, frozenset[str]]) -> None:
        self.labels: dict[str, frozenset[str]] = dict(external)
        for metric in spec.metrics.values():
            self.labels[metric.name] = frozenset(metric.labels)
            if metric.type == "histogram":
                self.labels[metric.name + "_bucket"] = frozenset(metric.labels) | {"le"}
                self.labels[metric.name + "_sum"] = frozenset(metric.labels)
                self.labels[metric.name + "_count"] = frozenset(metric.labels)


def check_queries(
    spec: MetricsSpec, queries: list[Query], external: dict[str, frozenset[str]] | None = None
) -> list[Problem]:
    """Problems of `queries`: unparsable PromQL, unknown metrics, labels a metric does not have."""
    names = _Names(spec, EXTERNAL_METRICS if external is None else external)
    problems: list[Problem] = []
    for query in queries:
        try:
            found = selectors(query.expr)
        except ValueError as exc:
            problems.append(Problem(query.source, f"PromQL does not parse ({exc}): {query.expr}"))
            continue
        if not found:
            problems.append(Problem(query.source, f"names no metric: {query.expr}"))
        for name, labels in found:
            if name is None:
                problems.append(Problem(query.source, f"a selector without a metric name: {query.expr}"))
                continue
            allowed = names.labels.get(name)
            if allowed is None:
                problems.append(Problem(query.source, f"metric {name!r} is not in the metrics spec"))
                continue
            unknown = sorted(labels - allowed - TARGET_LABELS)
            if unknown:
                problems.append(Problem(query.source, f"{name} has no label(s) {unknown}"))
    return problems


def referenced_metrics(queries: list[Query]) -> set[str]:
    """Names of every metric the parsable `queries` select."""
    found: set[str] = set()
    for query in queries:
        try:
            found.update(name for name, _ in selectors(query.expr) if name)
        except ValueError:
            continue
    return found


def collect_queries(dashboards: Path, alerts: Path) -> tuple[list[Query], list[Problem]]:
    """Queries of every dashboard and rule file; unreadable files are problems."""
    queries: list[Query] = []
    problems: list[Problem] = []
    for path in sorted(dashboards.glob("*.json")):
        try:
            queries.extend(dashboard_queries(path))
        except (json.JSONDecodeError, AttributeError, TypeError) as exc:
            problems.append(Problem(str(path), f"not a Grafana dashboard: {exc}"))
    for path in sorted(alerts.glob("*.yaml")):
        try:
            queries.extend(rule_queries(path))
        except (yaml.YAMLError, AttributeError, TypeError) as exc:
            problems.append(Problem(str(path), f"not a Prometheus rule file: {exc}"))
    return queries, problems
