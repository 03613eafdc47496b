"""Fixtures of the SDK tests: one live orchestratord (uvicorn on 127.0.0.1) with the mock engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sdk.live_orchd import LiveOrchestratord, live_orchestratord


@pytest.fixture(scope="module")
def live() -> Iterator[LiveOrchestratord]:
    with live_orchestratord() as running:
        yield running


@pytest.fixture
def orchd(live: LiveOrchestratord) -> Iterator[LiveOrchestratord]:
    """The live daemon with the engine's faults reset before and after the test."""
    live.set_faults()
    yield live
    live.set_faults()
