"""Small readers over one scrape, for checks that compare counters with what a load did."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def counter_total(text: str, name: str, **labels: str) -> float:
    """Sum of the samples named `name` (counters with `_total`) whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
