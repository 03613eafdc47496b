"""Dashboard panels drawn from the load run's scrapes to PNG under artifacts/ (ORCH-8103)."""

from __future__ import annotations

import math

import pytest

from tests.observability.support import ARTIFACTS, LoadRun
from tools.panel_render.render import queue_depth_series, render_load_panels
from tools.panel_render.series import histogram_quantile, read_scrapes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.req("ORCH-8103")
def test_queue_depth_and_first_token_panels_render_to_png(load_run: LoadRun) -> None:
    png = render_load_panels(load_run.scrapes, ARTIFACTS / "panels.png")
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000, "an empty plot is much smaller"


@pytest.mark.req("ORCH-8103")
def test_the_queue_built_up_under_load_and_drained(load_run: LoadRun) -> None:
    series = queue_depth_series(read_scrapes(load_run.scrapes, "orchestratord"))
    peak = max(value for points in series.values() for _, value in points)
    assert peak >= 2
    assert all(points[-1][1] == 0 for points in series.values())


@pytest.mark.req("ORCH-8103")
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.75),  # rank 5 of 10 lies halfway into the 0.5..1 bucket (2 -> 8)
        (0.95, 2.5),  # rank 9.5 falls into +Inf: the highest finite bound
        (0.1, 0.25),  # rank 1 of 10 is half of the first bucket (2 of 0..0.5), from 0
    ],
)
def test_histogram_quantile_interpolates_as_prometheus_does(q: float, expected: float) -> None:
    buckets = {0.5: 2.0, 1.0: 8.0, 2.5: 9.0, math.inf: 10.0}
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


@pytest.mark.req("ORCH-8103")
def test_histogram_quantile_without_observations_is_nan() -> None:
    assert math.isnan(histogram_quantile(0.95, {0.5: 0.0, math.inf: 0.0}))
