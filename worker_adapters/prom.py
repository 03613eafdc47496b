"""Prometheus text parsing shared by the adapters: families are looked up by name (ORCH-7007).

The parser appends `_total` to the samples of counters that lack it (TGI and Triton counters have no
suffix on the wire) but keeps the family name without it, so lookups use family names only.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from orchestrator_core.errors import Internal

Families = Mapping[str, Metric]
_VALUE_SUFFIXES = ("", "_total", "_sum")


def parse_families(text: str, engine: str) -> dict[str, Metric]:
    """Every metric family in an exposition text, by family name."""
    try:
        return {family.name: family for family in text_string_to_metric_families(text)}
    except ValueError as exc:
        raise Internal(f"{engine} metrics are not Prometheus text: {exc}", engine=engine) from exc


def family_value(families: Families, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """The sum over the matching samples of a family: counters, gauges, or a histogram's `_sum`.

    None when the family is absent. `labels` restricts the sum to samples carrying those label values.
    """
    family = families.get(name)
    if family is None:
        return None
    wanted = {name + suffix for suffix in _VALUE_SUFFIXES}
    if family.type in ("histogram", "summary"):
        wanted = {name + "_sum"}
    total = 0.0
    found = False
    for sample in family.samples:
        if sample.name not in wanted:
            continue
        if labels and any(sample.labels.get(key) != value for key, value in labels.items()):
            continue
        total += sample.value
        found = True
    return total if found else None


def first_value(families: Families, *candidates: tuple[str, Mapping[str, str] | None]) -> float | None:
    """The value of the first candidate family present (for renamed metrics across engine versions)."""
    for name, labels in candidates:
        value = family_value(families, name, labels)
        if value is not None:
            return value
    return None


def as_count(value: float | None) -> int | None:
    """A float sample as a whole count (None stays None)."""
    return None if value is None else round(value)
