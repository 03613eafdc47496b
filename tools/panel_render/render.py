"""Renders the queue-depth and first-token latency panels of the OrchQueue dashboard to one PNG."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on build machines

import matplotlib.pyplot as plt

from tools.panel_render.series import Scrape, read_scrapes, sum_by, windowed_quantile

FIRST_TOKEN = "orchd_first_token_latency_seconds"
# The alert threshold of ORCH-8102, drawn so a reviewer sees the margin.
FIRST_TOKEN_P95_LIMIT_S = 0.9


def queue_depth_series(scrapes: list[Scrape]) -> dict[str, list[tuple[float, float]]]:
    """`sum by (pool_id, priority) (orchd_queue_depth)` over time, keyed `pool/priority`."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for scrape in scrapes:
        for labels, value in sum_by(scrape, "orchd_queue_depth", ("pool_id", "priority")).items():
            out["/".join(v for _, v in labels)].append((scrape.t, value))
    return dict(out)


def render_load_panels(scrapes_dir: Path, png: Path, window_s: float = 2.0) -> Path:
    """Writes the two panels for the orchestratord scrapes in `scrapes_dir` to `png`."""
    scrapes = read_scrapes(scrapes_dir, "orchestratord")
    if len(scrapes) < 2:
        raise ValueError(f"{scrapes_dir}: at least two orchestratord scrapes are needed")
    figure, (depth_axis, latency_axis) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for key, points in sorted(queue_depth_series(scrapes).items()):
        depth_axis.step(*zip(*points, strict=True), where="post", label=key)
    depth_axis.set_title("Queue depth by pool and priority  (sum by (pool_id, priority) (orchd_queue_depth))")
    depth_axis.set_ylabel("tasks")
    depth_axis.legend(loc="upper right", fontsize="small")
    for q, style in ((0.5, ":"), (0.95, "-")):
        for priority, points in sorted(
            windowed_quantile(scrapes, FIRST_TOKEN, q, "priority", window_s).items()
        ):
            shown = [(t, v) for t, v in points if not math.isnan(v)]
            if shown:
                latency_axis.plot(*zip(*shown, strict=True), style, label=f"p{int(q * 100)} {priority}")
    latency_axis.axhline(FIRST_TOKEN_P95_LIMIT_S, color="red", linewidth=0.8, label="alert: p95 0.9 s")
    latency_axis.set_title(
        f"First-token latency by priority  (histogram_quantile over {window_s:g} s windows)"
    )
    latency_axis.set_ylabel("seconds")
    latency_axis.set_xlabel("seconds since the load started")
    latency_axis.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=90)
    plt.close(figure)
    return png
