"""Fixtures of the CLI tests: the live orchestratord of the SDK tests (mock engine, deterministic
content) and a runner of `llorch` bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.llorch_runner import Runner, Transcript, run_llorch
from tests.sdk.live_orchd import LiveOrchestratord, live_orchestratord


@pytest.fixture(scope="module")
def live() -> Iterator[LiveOrchestratord]:
    with live_orchestratord() as running:
        yield running


@pytest.fixture
def orchd(live: LiveOrchestratord) -> Iterator[LiveOrchestratord]:
    live.set_faults()
    yield live
    live.set_faults()


@pytest.fixture
def llorch(orchd: LiveOrchestratord) -> Runner:
    """Runs `llorch ARGS --url <live daemon>`."""

    def runner(*argv: str, err_tty: bool = False) -> Transcript:
        return run_llorch(*argv, url=orchd.url, err_tty=err_tty)

    return runner
