"""Shared steps of the chaos scenarios: a stack that must leave no process behind, submitting, polling."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from test_harness.chaos.stack import MockStack, NodePlan, mock_stack


@contextmanager
def chaos_stack(plans: list[NodePlan], **orchestratord: Any) -> Iterator[MockStack]:
    """The stack for one scenario; on exit, every process it started must be gone (ORCH-9019)."""
    with mock_stack(plans, orchestratord=orchestratord, timeout_s=90.0) as stack:
        yield stack
    leftover = stack.live_pids()
    assert leftover == [], f"processes left running: {leftover}"


def submit(stack: MockStack, **fields: Any) -> httpx.Response:
    body = {"model_ref": str(stack.model_a), "prompt": "chaos", "max_tokens": 8, **fields}
    with stack.http() as client:
        return client.post("/v1/tasks", json=body)


def admitted(stack: MockStack, **fields: Any) -> str:
    response = submit(stack, **fields)
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


def status(stack: MockStack, task_id: str) -> dict[str, Any]:
    with stack.http() as client:
        body: dict[str, Any] = client.get(f"/v1/tasks/{task_id}").json()
        return body


def eventually(what: str, check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting until {what}")
        time.sleep(0.05)


def running_replica(stack: MockStack, task_id: str) -> str:
    """The replica a running task was placed on."""
    found: dict[str, str] = {}

    def placed() -> bool:
        replay = status(stack, task_id).get("replay")
        if replay:
            found["replica_id"] = replay["replica_id"]
        return bool(replay)

    eventually(f"task {task_id} is placed", placed)
    return found["replica_id"]


def busy_replica(stack: MockStack, pool_id: str) -> str:
    """The replica of a pool whose engine is generating right now (the mock engine reports it)."""
    found: dict[str, str] = {}

    def busy() -> bool:
        for replica in stack.pool_health(pool_id)["replicas"]:
            stats = httpx.get(f"{replica['endpoint']}/admin/stats", timeout=2).json()
            if stats["running"] > 0:
                found["replica_id"] = replica["replica_id"]
                return True
        return False

    eventually(f"an engine of {pool_id} is generating", busy)
    return found["replica_id"]


def kill_replica(stack: MockStack, pool_id: str, replica_id: str) -> int:
    """SIGKILL the engine process of a replica; returns its pid."""
    pid = int(stack.replica(pool_id, replica_id)["pid"])
    os.kill(pid, signal.SIGKILL)
    return pid


def rss_bytes(pid: int) -> int:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")
