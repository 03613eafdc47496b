"""Fixtures of the orchestratord tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from tests.live_daemon import LiveDaemon, live_daemon
from tests.orchestratord.orchd_harness import Daemon, running_daemon


@pytest.fixture
async def daemon() -> AsyncIterator[Daemon]:
    async with running_daemon() as running:
        yield running


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[LiveDaemon[str]]:
    """A live orchestratord built by the test module's `BUILD` (an app over mock engine servers, yielding
    the first engine's URL), for the module."""
    with live_daemon(request.module.BUILD) as daemon:
        yield daemon


@pytest.fixture
def sdk(stack: LiveDaemon[str]) -> Iterator[openai.OpenAI]:
    """The unmodified `openai` client of `stack`, without retries (modules with their own `stack` or
    `sdk` override these)."""
    client = openai.OpenAI(base_url=f"{stack.url}/v1", api_key="local", max_retries=0, timeout=15)
    try:
        yield client
    finally:
        client.close()
