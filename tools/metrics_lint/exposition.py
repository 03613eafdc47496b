"""Checks one daemon's `/metrics` text against the metrics spec (ORCH-8001, ORCH-8002, ORCH-8005).

Rules, per scrape of one daemon:

- Every family (other than the exempt `process_*` and `python_*`) is a spec family of that daemon, with the
  spec's type and exact HELP text; untyped sample lines are refused.
- Sample names are the spec name (counters with `_total`), or `_bucket`/`_sum`/`_count` for histograms;
  `_created` and any other suffix are refused.
- The label names of every sample equal the spec's labels (plus `le` on buckets), and every histogram
  series has exactly the spec's buckets plus `+Inf`.
- Label values stay within the budgets: distinct values per label (over all families of the daemon) at
  most the budget, and every value a documented one (closed sets, the spec's id pattern, `_other`).
- Every spec family of the daemon is emitted. A family without labels MUST have samples (it has exactly
  one series from the first scrape). A labelled family MUST at least appear with its `# HELP` and
  `# TYPE` lines: the spec lets labelled families stay without samples until first used, so an empty
  labelled family is compliant; the stack test additionally requires samples for the families its load
  is bound to exercise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tools.metrics_lint.problems import Problem
from tools.metrics_lint.spec import DAEMON_PREFIXES, SUFFIX_UNITS, MetricSpec, MetricsSpec

EXEMPT_PREFIXES = ("process_", "python_")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def parse_exposition(text: str, source: str) -> tuple[list[Metric], list[Problem]]:
    """The families of a Prometheus text scrape, or the parser's complaint as a problem."""
    try:
        return list(text_string_to_metric_families(text)), []
    except ValueError as exc:
        return [], [Problem(source, f"not valid Prometheus text: {exc}")]


def _sample_names(metric: MetricSpec) -> frozenset[str]:
    if metric.type == "histogram":
        return frozenset(metric.name + suffix for suffix in HISTOGRAM_SUFFIXES)
    return frozenset({metric.name})


def _le(value: str) -> float:
    return math.inf if value == "+Inf" else float(value)


class _ScrapeCheck:
    """Accumulates the problems of one scrape; the label values seen feed the budget check."""

    def __init__(self, spec: MetricsSpec, daemon: str, source: str) -> None:
        self.spec = spec
        self.by_family = {m.family: m for m in spec.for_daemon(daemon).values()}
        self.source = source
        self.problems: list[Problem] = []
        self.values: dict[str, set[str]] = defaultdict(set)
        self.seen: set[str] = set()

    def fail(self, message: str) -> None:
        self.problems.append(Problem(self.source, message))

    def family(self, family: Metric) -> None:
        if family.name.startswith(EXEMPT_PREFIXES):
            return
        metric = self.by_family.get(family.name)
        if family.type == "unknown":
            names = sorted({s.name for s in family.samples})
            self.fail(f"series {names} have no # TYPE line (not a spec family)")
            return
        if metric is None:
            self.fail(f"family {family.name!r} ({family.type}) is not in the metrics spec for this daemon")
            return
        self.seen.add(metric.name)
        if family.type != metric.type:
            self.fail(f"{metric.name}: type {family.type}, the spec says {metric.type}")
            return
        if family.documentation != metric.help:
            self.fail(f"{metric.name}: HELP {family.documentation!r}, the spec says {metric.help!r}")
        if not metric.labels and not family.samples:
            self.fail(f"{metric.name}: has no labels, so it must have a sample from the first scrape")
        self.samples(metric, family)

    def samples(self, metric: MetricSpec, family: Metric) -> None:
        allowed = _sample_names(metric)
        buckets: dict[tuple[tuple[str, str], ...], set[float]] = defaultdict(set)
        for sample in family.samples:
            if sample.name not in allowed:
                self.fail(f"{metric.name}: sample {sample.name!r} is not one of {sorted(allowed)}")
                continue
            expected = set(metric.labels) | ({"le"} if sample.name.endswith("_bucket") else set())
            if set(sample.labels) != expected:
                self.fail(f"{sample.name}: labels {sorted(sample.labels)}, the spec says {sorted(expected)}")
                continue
            for label, value in sample.labels.items():
                if label != "le":
                    self.values[label].add(value)
            if sample.name.endswith("_bucket"):
                key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                buckets[key].add(_le(sample.labels["le"]))
        wanted = set(metric.buckets) | {math.inf}
        for key, bounds in buckets.items():
            if bounds != wanted:
                self.fail(
                    f"{metric.name}{dict(key)}: buckets {sorted(bounds)}, the spec says {sorted(wanted)}"
                )

    def missing(self) -> None:
        for name in sorted(set(m.name for m in self.by_family.values()) - self.seen):
            self.fail(f"{name}: a spec family that the daemon does not emit (no # HELP / # TYPE)")

    def budgets(self) -> None:
        for label, values in sorted(self.values.items()):
            budget = self.spec.budgets.get(label)
            if budget is None:
                self.fail(f"label {label!r} has no cardinality budget in the spec")
                continue
            if len(values) > budget.budget:
                self.fail(f"label {label!r}: {len(values)} distinct values, budget {budget.budget}")
            undocumented = sorted(v for v in values if not budget.admits(v))
            if undocumented:
                self.fail(f"label {label!r}: undocumented values {undocumented[:10]} (fold them into _other)")


def check_exposition(spec: MetricsSpec, daemon: str, text: str, source: str) -> list[Problem]:
    """Every problem of one daemon's scrape `text` against `spec` (empty when it complies)."""
    families, problems = parse_exposition(text, source)
    if problems:
        return problems
    check = _ScrapeCheck(spec, daemon, source)
    for line in text.splitlines():
        if line and not line.startswith("#") and line.split("{", 1)[0].split(" ", 1)[0].endswith("_created"):
            check.fail(f"_created series are disabled by the spec: {line.split(' ', 1)[0]}")
    for family in families:
        check.family(family)
    check.missing()
    check.budgets()
    return check.problems


def families_with_samples(text: str) -> set[str]:
    """Spec-style names (counters with `_total`) of the families that have at least one sample."""
    families, _ = parse_exposition(text, "scrape")
    return {f.name + ("_total" if f.type == "counter" else "") for f in families if f.samples}


def check_spec_rules(spec: MetricsSpec, source: str) -> list[Problem]:
    """The spec's own naming rules: prefixes, unit suffixes, `_total` only on counters, budgets for labels."""
    problems: list[Problem] = []
    for metric in spec.metrics.values():
        where = f"{source}:{metric.line}"
        problems.extend(Problem(where, m) for m in _name_rules(metric, DAEMON_PREFIXES[metric.daemon]))
        base = metric.name.removesuffix("_total")
        if metric.unit in SUFFIX_UNITS and not base.endswith("_" + metric.unit):
            problems.append(Problem(where, f"{metric.name}: unit {metric.unit} needs _{metric.unit}"))
        if metric.unit == "tokens" and metric.type != "counter":
            problems.append(Problem(where, f"{metric.name}: unit tokens is for counters (_tokens_total)"))
        if metric.unit not in SUFFIX_UNITS and base.endswith(tuple(f"_{u}" for u in SUFFIX_UNITS)):
            problems.append(Problem(where, f"{metric.name}: unit {metric.unit} takes no unit suffix"))
        problems.extend(
            Problem(where, f"{metric.name}: label {label!r} has no cardinality budget")
            for label in metric.labels
            if label not in spec.budgets
        )
    return problems


def _name_rules(metric: MetricSpec, prefix: str) -> Iterable[str]:
    if not metric.name.startswith(prefix):
        yield f"{metric.name}: {metric.daemon} metrics start with {prefix}"
    if metric.type == "counter" and not metric.name.endswith("_total"):
        yield f"{metric.name}: counters end in _total"
    if metric.type != "counter" and metric.name.endswith("_total"):
        yield f"{metric.name}: only counters end in _total"
    if metric.name.endswith("_build_info") and metric.type != "gauge":
        yield f"{metric.name}: information metrics are gauges"
