"""Time series out of successive scrapes, computed as the dashboard's PromQL would compute them."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scrape:
    """One scrape of one daemon: seconds since the run started and every sample by (name, labels)."""

    t: float
    samples: dict[tuple[str, Labels], float]


def read_scrapes(directory: Path, daemon: str) -> list[Scrape]:
    """The daemon's scrapes in time order, from `index.jsonl`."""
    scrapes = []
    for line in (directory / "index.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["daemon"] != daemon:
            continue
        text = (directory / entry["file"]).read_text(encoding="utf-8")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        scrapes.append(Scrape(float(entry["t"]), samples))
    return scrapes


def sum_by(scrape: Scrape, name: str, by: tuple[str, ...]) -> dict[Labels, float]:
    """`sum by (by) (name)` at one scrape."""
    out: dict[Labels, float] = defaultdict(float)
    for (sample, labels), value in scrape.samples.items():
        if sample == name:
            keep = dict(labels)
            out[tuple((k, keep.get(k, "")) for k in by)] += value
    return dict(out)


def histogram_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus' histogram_quantile over cumulative bucket counts {le: count}; NaN without data."""
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf or buckets[math.inf] <= 0:
        return math.nan
    rank = q * buckets[math.inf]
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if le == math.inf:
                return lower
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def windowed_quantile(
    scrapes: list[Scrape], name: str, q: float, by: str, window_s: float
) -> dict[str, list[tuple[float, float]]]:
    """histogram_quantile(q, sum by (le, by) (increase(name_bucket[window]))) at every scrape."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for index, now in enumerate(scrapes):
        start = next((s for s in scrapes[: index + 1] if s.t >= now.t - window_s), now)
        before, after = _buckets(start, name, by), _buckets(now, name, by)
        for group, counts in after.items():
            base = before.get(group, {})
            increase = {le: counts[le] - base.get(le, 0.0) for le in counts}
            out[group].append((now.t, histogram_quantile(q, increase)))
    return dict(out)


def _buckets(scrape: Scrape, name: str, by: str) -> dict[str, dict[float, float]]:
    grouped: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for (sample, labels), value in scrape.samples.items():
        if sample == name + "_bucket":
            values = dict(labels)
            le = math.inf if values["le"] == "+Inf" else float(values["le"])
            grouped[values.get(by, "")][le] += value
    return {group: dict(counts) for group, counts in grouped.items()}
