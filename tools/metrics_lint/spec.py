"""The metrics specification (`.specs/metrics/otel-prom.md`) read into typed rows.

The tables are the source of truth: one row per metric family (name, type, labels, unit, buckets, help)
and one row per label (cardinality budget, documented values). A row that cannot be read is an error that
names the line, so a malformed spec never lints as "nothing to check".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator_core.errors import InvalidParams

METRIC_TYPES = frozenset({"counter", "gauge", "histogram"})
UNITS = frozenset({"seconds", "bytes", "ratio", "tokens", "tasks", "1"})
# Units whose names end a metric name (before `_total` for counters).
SUFFIX_UNITS = frozenset({"seconds", "bytes", "ratio", "tokens"})
DAEMON_PREFIXES = {"orchestratord": "orchd_", "pool_managerd": "poolmgr_"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class MetricSpec:
    """One metric family as the spec defines it; `name` is the name in sample lines."""

    name: str
    daemon: str
    type: str
    labels: tuple[str, ...]
    unit: str
    buckets: tuple[float, ...]
    help: str
    line: int

    @property
    def family(self) -> str:
        """The family name prometheus-client's parser reports (counters without `_total`)."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name


@dataclass(frozen=True)
class LabelBudget:
    """A label's budget; `values` is the closed set when the spec enumerates it, else None.

    `pattern` is the value pattern the spec gives in backticks (`^...$`), and `specials` the other
    backticked words of the row (`_none`, `_other`), which the pattern does not have to match.
    """

    label: str
    budget: int
    values: frozenset[str] | None
    pattern: re.Pattern[str] | None = None
    specials: frozenset[str] = frozenset()

    def admits(self, value: str) -> bool:
        """Whether `value` is a documented value of the label (budget aside)."""
        if value == "_other" or value in self.specials:
            return True
        if self.values is not None:
            return value in self.values
        return self.pattern is None or bool(self.pattern.fullmatch(value))


@dataclass(frozen=True)
class MetricsSpec:
    """Every family and label budget of the spec."""

    metrics: dict[str, MetricSpec]
    budgets: dict[str, LabelBudget]

    def for_daemon(self, daemon: str) -> dict[str, MetricSpec]:
        return {name: m for name, m in self.metrics.items() if m.daemon == daemon}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _plain(cell: str) -> str:
    return cell.replace("`", "").strip()


def _tables(text: str) -> list[tuple[str, list[str], list[tuple[int, list[str]]]]]:
    """(section heading, header cells, [(line number, cells)]) for every markdown table."""
    tables: list[tuple[str, list[str], list[tuple[int, list[str]]]]] = []
    section = ""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        if line.startswith("|") and index + 1 < len(lines) and set(lines[index + 1]) <= set("|-: "):
            header = _cells(line)
            rows: list[tuple[int, list[str]]] = []
            index += 2
            while index < len(lines) and lines[index].startswith("|"):
                rows.append((index + 1, _cells(lines[index])))
                index += 1
            tables.append((section, header, rows))
            continue
        index += 1
    return tables


def _metric_row(daemon: str, number: int, cells: list[str], where: str) -> MetricSpec:
    if len(cells) != 6:
        raise InvalidParams(f"{where}:{number}: a metric row has 6 cells, found {len(cells)}")
    name, mtype, labels, unit, buckets, help_text = cells
    name = _plain(name)
    if not _NAME.match(name):
        raise InvalidParams(f"{where}:{number}: {name!r} is not a metric name")
    if mtype not in METRIC_TYPES:
        raise InvalidParams(f"{where}:{number}: type {mtype!r} is not one of {sorted(METRIC_TYPES)}")
    if unit not in UNITS:
        raise InvalidParams(f"{where}:{number}: unit {unit!r} is not one of {sorted(UNITS)}")
    label_names = () if labels == "-" else tuple(_plain(label) for label in labels.split(","))
    try:
        bounds = () if buckets == "-" else tuple(float(b) for b in buckets.split(","))
    except ValueError as exc:
        raise InvalidParams(f"{where}:{number}: buckets {buckets!r} are not numbers") from exc
    if (mtype == "histogram") != bool(bounds):
        raise InvalidParams(f"{where}:{number}: buckets are given exactly for histograms")
    return MetricSpec(name, daemon, mtype, label_names, unit, bounds, help_text, number)


def _budget_row(number: int, cells: list[str], where: str) -> LabelBudget:
    if len(cells) != 3 or not cells[1].isdigit():
        raise InvalidParams(f"{where}:{number}: a budget row is | label | budget | values |")
    values = cells[2]
    # "the error codes: A, B, ..." introduces its list with a colon.
    values = values.split(": ", 1)[1] if ": " in values else values
    words = [_plain(word) for word in values.split(",")]
    # A cell that is nothing but a list of identifiers is a closed set; prose means "budget only".
    closed = all(_IDENT.match(word) for word in words)
    quoted = re.findall(r"`([^`]+)`", cells[2])
    patterns = [q for q in quoted if q.startswith("^") and q.endswith("$")]
    specials = frozenset(q for q in quoted if q.startswith("_"))
    return LabelBudget(
        _plain(cells[0]),
        int(cells[1]),
        frozenset(words) if closed else None,
        re.compile(patterns[0]) if patterns else None,
        specials,
    )


def parse_metrics_spec(path: Path) -> MetricsSpec:
    """Reads the metric and budget tables of `path`.

    Raises:
        InvalidParams: a table row is malformed, a name repeats, or no table was found.
    """
    where = str(path)
    metrics: dict[str, MetricSpec] = {}
    budgets: dict[str, LabelBudget] = {}
    for section, header, rows in _tables(path.read_text(encoding="utf-8")):
        if header[:2] == ["name", "type"]:
            daemon = section.strip()
            if daemon not in DAEMON_PREFIXES:
                raise InvalidParams(f"{where}: metric table under unknown section {section!r}")
            for number, cells in rows:
                metric = _metric_row(daemon, number, cells, where)
                if metric.name in metrics:
                    raise InvalidParams(f"{where}:{number}: {metric.name} is defined twice")
                metrics[metric.name] = metric
        elif header[:2] == ["label", "budget"]:
            for number, cells in rows:
                budget = _budget_row(number, cells, where)
                budgets[budget.label] = budget
    if not metrics or not budgets:
        raise InvalidParams(f"{where}: no metric table or no label budget table found")
    return MetricsSpec(metrics, budgets)
