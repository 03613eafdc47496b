"""Fixtures of the CLI tests: the live orchestratord of the SDK tests (mock engine, deterministic
content) and a runner of `llorch` bound to it."""

from __future__ import annotations

import pytest

from tests.cli.llorch_runner import Runner, Transcript, run_llorch
from tests.sdk.live_orchd import LiveOrchestratord
from tests.sdk.live_orchd import live as live
from tests.sdk.live_orchd import orchd as orchd


@pytest.fixture
def llorch(orchd: LiveOrchestratord) -> Runner:
    """Runs `llorch ARGS --url <live daemon>`."""

    def runner(*argv: str, err_tty: bool = False) -> Transcript:
        return run_llorch(*argv, url=orchd.url, err_tty=err_tty)

    return runner
