"""Restart backoff, the crash circuit breaker, and port allocation."""

from __future__ import annotations

import socket

import pytest

from orchestrator_core.errors import InvalidParams, PoolUnavailable
from pool_managerd.backoff import Backoff
from pool_managerd.breaker import CrashBreaker
from pool_managerd.ports import PortAllocator
from tests.pool_managerd.pm_support import free_port_range


@pytest.mark.req("ORCH-6007")
def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(initial_ms=500, max_ms=30_000)
    assert [backoff.next_delay_ms() for _ in range(9)] == [
        500,
        1000,
        2000,
        4000,
        8000,
        16000,
        30000,
        30000,
        30000,
    ]
    backoff.reset()
    assert backoff.next_delay_ms() == 500


@pytest.mark.req("ORCH-6007")
def test_backoff_refuses_an_initial_delay_above_the_cap() -> None:
    with pytest.raises(InvalidParams, match="backoff_max_ms"):
        Backoff(initial_ms=2000, max_ms=1000)


@pytest.mark.req("ORCH-6008")
def test_breaker_opens_at_k_crashes_within_the_window() -> None:
    breaker = CrashBreaker(max_crashes=3, window_ms=60_000)
    assert not breaker.record_crash(0, "exit code 1")
    assert not breaker.record_crash(10_000, "exit code 1")
    assert breaker.record_crash(20_000, "exit code -9")
    assert breaker.open and breaker.last_error == "exit code -9"
    assert not breaker.record_crash(21_000, "again")  # already open: reported once
    breaker.reset()
    assert not breaker.open and breaker.recent_crashes == 0


@pytest.mark.req("ORCH-6008")
def test_crashes_spread_wider_than_the_window_never_open_the_breaker() -> None:
    breaker = CrashBreaker(max_crashes=3, window_ms=60_000)
    assert not any(breaker.record_crash(t * 31_000, "exit code 1") for t in range(10))
    assert breaker.recent_crashes == 2


@pytest.mark.req("ORCH-6016")
def test_ports_come_lowest_free_first_and_skip_a_taken_one() -> None:
    first, last = free_port_range(4)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first + 1))
        squatter.listen()
        ports = PortAllocator(first, last)
        assert [ports.allocate(), ports.allocate(), ports.allocate()] == [first, first + 2, first + 3]
        with pytest.raises(PoolUnavailable, match="no free port"):
            ports.allocate()
        ports.release(first + 2)
        assert ports.allocate() == first + 2


def test_inverted_port_range_is_refused() -> None:
    with pytest.raises(InvalidParams, match="port_range"):
        PortAllocator(9000, 8000)
