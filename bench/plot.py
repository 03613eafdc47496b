"""The PNG of a run: tokens/s and added time to first token against concurrency, one line per arm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from bench.report import ARM_NAMES


def _series(arms: dict[str, Any], arm: str, *path: str) -> tuple[list[int], list[float]]:
    xs: list[int] = []
    ys: list[float] = []
    for level, cell in sorted(arms.get(arm, {}).items(), key=lambda item: int(item[0])):
        value: Any = cell
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            xs.append(int(level))
            ys.append(float(value))
    return xs, ys


def plot(results: dict[str, Any], path: Path) -> None:
    arms = results.get("arms", {})
    figure, (rates, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    for arm in arms:
        rates.plot(*_series(arms, arm, "tokens_per_s"), marker="o", label=ARM_NAMES.get(arm, arm))
        if arm != "direct":
            label = ARM_NAMES.get(arm, arm)
            latency.plot(*_series(arms, arm, "added_ttft_ms", "p50"), marker="o", label=f"{label} p50")
            latency.plot(
                *_series(arms, arm, "added_ttft_ms", "p99"), marker="x", ls="--", label=f"{label} p99"
            )
    rates.axhline(25_000, color="grey", ls=":", label="target at 64 streams")
    rates.set(xscale="log", xlabel="concurrent streams", ylabel="tokens/s relayed", title="Throughput")
    latency.set(
        xscale="log",
        yscale="symlog",
        xlabel="concurrent streams",
        ylabel="ms",
        title="Added time to first token",
    )
    for axes in (rates, latency):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    machine = results.get("machine", {})
    figure.suptitle(
        f"OrchQueue bench {results.get('started_at', '')[:10]}: {machine.get('cores')} cores, "
        f"{machine.get('cpu_model')}, Python {machine.get('python')}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
