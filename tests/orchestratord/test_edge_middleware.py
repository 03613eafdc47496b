"""One orchestratord middleware wraps every request: correlation id, limits and counting in one layer."""

from __future__ import annotations

import pytest

from http_edge.middleware import EdgeMiddleware
from orchestratord.app import create_app
from tests.orchestratord.orchd_harness import Daemon, make_config


@pytest.mark.req("ORCH-1202", "ORCH-9205")
def test_the_app_has_a_single_orchestratord_middleware() -> None:
    app = create_app(make_config())
    assert [middleware.cls for middleware in app.user_middleware] == [EdgeMiddleware]


@pytest.mark.req("ORCH-1202", "ORCH-1003")
async def test_a_refusal_by_the_limits_carries_the_correlation_id_and_is_counted(daemon: Daemon) -> None:
    refused = await daemon.client.get(
        "/v1/capabilities", headers={"x-padding": "a" * 20_000, "x-correlation-id": "edge-1"}
    )
    assert refused.status_code == 400
    assert refused.headers["x-correlation-id"] == "edge-1"
    assert refused.json()["correlation_id"] == "edge-1"
    scraped = (await daemon.client.get("/metrics")).text
    counted = [
        line
        for line in scraped.splitlines()
        if line.startswith("orchd_http_requests_total{")
        and 'route="_unmatched"' in line
        and 'code="400"' in line
    ]
    assert len(counted) == 1 and counted[0].endswith(" 1.0")
