"""Fixtures of the contract gates (Pact, schemathesis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def pact_offline() -> Iterator[None]:
    """Pact's core reports usage over the network unless told not to; tests stay on loopback."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PACT_DO_NOT_TRACK", "true")
        yield
