"""Fixtures of the orchestratord tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.orchestratord.orchd_harness import Daemon, running_daemon


@pytest.fixture
async def daemon() -> AsyncIterator[Daemon]:
    async with running_daemon() as running:
        yield running
