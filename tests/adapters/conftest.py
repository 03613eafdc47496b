"""Fixtures of the adapter suites: each test of the conformance suite runs once per adapter."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import pytest

from mock_engine import Faults, MockConfig
from tests.adapters.helpers import TARGETS, Target, TargetFactory, open_target
from worker_adapters.options import AdapterOptions


@pytest.fixture(params=TARGETS)
def target_name(request: pytest.FixtureRequest) -> str:
    """Each adapter in turn."""
    return str(request.param)


@pytest.fixture
def make_target(target_name: str) -> TargetFactory:
    """Open the current adapter against a mock configured by the test."""

    def factory(
        config: MockConfig | None = None, faults: Faults | None = None, options: AdapterOptions | None = None
    ) -> AbstractAsyncContextManager[Target]:
        return open_target(target_name, config, faults, options)

    return factory
