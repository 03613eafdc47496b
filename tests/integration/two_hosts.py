"""Two pool_managerd "hosts" on loopback registered with one orchestratord, driven as a client and an operator
would: tasks and streams through the data plane, pools and nodes through the control plane with API keys.

The stack is the chaos harness's (real `python -m orchestratord` / `python -m pool_managerd` processes, mock
or real llama.cpp engines); this module adds keys, a short heartbeat interval, reading a task's stream with
credentials, and the process-table checks that prove a shutdown leaves nothing behind.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
from httpx_sse import connect_sse

from contracts.config_schema.common import sha256_hex
from test_harness.chaos.stack import Daemon, MockStack, NodePlan, mock_stack
from tests.pool_managerd.pm_support import group_members, pid_alive

HEARTBEAT_MS = 300
LEASE_INTERVALS = 3
LEASE_MS = HEARTBEAT_MS * LEASE_INTERVALS
LEASE_CHECK_MAX_MS = 500  # ORCH-1114: leases are checked at least this often
STACK_START_S = 90.0
TERMINAL = frozenset({"end", "error"})


@dataclass
class Keys:
    """The API keys orchestratord accepts: the stack's admin key and one client key."""

    admin: str
    client: str = field(default_factory=lambda: secrets.token_urlsafe(18))


@dataclass
class TwoHosts:
    """A running stack and the credentials to talk to it."""

    stack: MockStack
    keys: Keys

    @property
    def url(self) -> str:
        return self.stack.url

    def node(self, host_id: str) -> Daemon:
        return self.stack.nodes[host_id]

    def client(self, key: str | None = None, timeout_s: float = 5.0) -> httpx.Client:
        """orchestratord with `key` (the admin key by default; "" sends no credentials)."""
        token = self.keys.admin if key is None else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, timeout=timeout_s, trust_env=False, headers=headers)

    def node_api(self, host_id: str, timeout_s: float = 5.0) -> httpx.Client:
        """The host's own pool_managerd API, with its node token."""
        config = orjson.loads(self.node(host_id).config_path.read_bytes())
        bind = config["bind"]
        return httpx.Client(
            base_url=f"http://{bind['host']}:{bind['port']}",
            timeout=timeout_s,
            trust_env=False,
            headers={"Authorization": f"Bearer {config['node_token']}"},
        )

    def node_pools(self, host_id: str) -> list[dict[str, Any]]:
        """What the host's pool_managerd itself reports for its pools."""
        with self.node_api(host_id) as api:
            response = api.get("/v1/pools")
        assert response.status_code == 200, response.text
        pools: list[dict[str, Any]] = response.json()["pools"]
        return pools

    def nodes(self) -> dict[str, dict[str, Any]]:
        with self.client() as client:
            response = client.get("/v1/nodes")
        assert response.status_code == 200, response.text
        return {node["node_id"]: node for node in response.json()["nodes"]}

    def pools(self) -> dict[str, dict[str, Any]]:
        with self.client() as client:
            response = client.get("/v1/pools")
        assert response.status_code == 200, response.text
        return {pool["pool_id"]: pool for pool in response.json()["pools"]}

    def submit(self, model_ref: str, **fields: Any) -> httpx.Response:
        body = {"model_ref": model_ref, "prompt": "two hosts", "max_tokens": 4, **fields}
        with self.client(self.keys.client) as client:
            return client.post("/v1/tasks", json=body)

    def run(self, model_ref: str, timeout_s: float = 20.0, **fields: Any) -> Stream:
        """Submits a task that must be admitted and reads its stream to the end."""
        response = self.submit(model_ref, **fields)
        assert response.status_code == 202, response.text
        return self.follow(str(response.json()["task_id"]), timeout_s)

    def follow(self, task_id: str, timeout_s: float = 20.0) -> Stream:
        return read_stream(self.url, self.keys.client, task_id, timeout_s)

    def orchestratord_events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.stack.orchestratord_log() if line.get("event") == name]


@contextmanager
def two_hosts(
    plans: list[NodePlan], heartbeats_ms: dict[str, int] | None = None, **orchestratord: Any
) -> Iterator[TwoHosts]:
    """orchestratord (API keys, 300 ms heartbeats, lease of 3 of them) and one pool_managerd per plan
    (heartbeating every 300 ms unless `heartbeats_ms` names another interval for its host id), ready; on a
    clean exit no process the stack ever started may still run."""
    intervals = heartbeats_ms or {}
    plans = [replace(p, heartbeat_interval_ms=intervals.get(p.host_id, HEARTBEAT_MS)) for p in plans]
    keys = Keys(admin=secrets.token_urlsafe(18))
    client_key = {
        "sha256": sha256_hex(keys.client),
        "tenant": "acme",
        "role": "client",
    }
    overrides: dict[str, Any] = {
        "node_lease": {"heartbeat_interval_ms": HEARTBEAT_MS, "lease_intervals": LEASE_INTERVALS},
        "api_keys": [client_key],
        **orchestratord,
    }
    with mock_stack(plans, orchestratord=overrides, timeout_s=STACK_START_S, admin_key=keys.admin) as stack:
        yield TwoHosts(stack, keys)
    leftover = stack.live_pids()
    assert leftover == [], f"processes left running: {leftover}"


@dataclass
class Stream:
    """Every event a reader of one task's stream saw, or the HTTP error that refused the stream."""

    events: list[tuple[str, dict[str, Any]]]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    @property
    def started(self) -> dict[str, Any]:
        started = self.named("started")
        assert len(started) == 1, self.events
        return started[0]

    @property
    def terminal(self) -> tuple[str, dict[str, Any]]:
        ends = [(event, data) for event, data in self.events if event in TERMINAL]
        assert len(ends) == 1, f"expected exactly one terminal event: {self.events}"
        return ends[0]

    @property
    def tokens(self) -> int:
        return len(self.named("token"))


def read_stream(url: str, key: str, task_id: str, timeout_s: float) -> Stream:
    """The task's SSE stream until its terminal event; raises if it stays open longer than `timeout_s`."""
    events: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout_s
    with (
        httpx.Client(
            base_url=url,
            timeout=httpx.Timeout(timeout_s, connect=2.0),
            trust_env=False,
            headers={"Authorization": f"Bearer {key}"},
        ) as client,
        connect_sse(client, "GET", f"/v1/tasks/{task_id}/stream") as source,
    ):
        response = source.response
        if response.status_code != 200:
            response.read()
            return Stream([("http", {"status": response.status_code, **response.json()})])
        for sse in source.iter_sse():
            if sse.data:  # a heartbeat comment dispatches an empty event in httpx-sse
                events.append((sse.event, sse.json()))
            if sse.event in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"stream of {task_id} still open after {timeout_s} s: {events[-3:]}")
    return Stream(events)


def eventually(what: str, check: Callable[[], bool], timeout_s: float, every_s: float = 0.05) -> float:
    """Polls `check` until true; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting until {what}")
        time.sleep(every_s)
    return time.monotonic() - started


def replica_ids(pools: list[dict[str, Any]], pool_id: str) -> set[str]:
    pool = next(p for p in pools if p["pool_id"] == pool_id)
    return {replica["replica_id"] for replica in pool["replicas"]}


def engine_pids(hosts: TwoHosts) -> set[int]:
    """The engine processes every pool_managerd reports running now (from its own API)."""
    return {
        int(replica["pid"])
        for host_id in hosts.stack.nodes
        for pool in hosts.node_pools(host_id)
        for replica in pool["replicas"]
        if replica["pid"] is not None
    }


def terminate_everything(hosts: TwoHosts, grace_s: float = 15.0) -> dict[str, int | None]:
    """SIGTERM each pool_managerd, then orchestratord, as an operator stops them; returns the exit codes."""
    hosts.stack.remember_children()
    codes: dict[str, int | None] = {}
    for daemon in [*hosts.stack.nodes.values(), hosts.stack.orchestratord]:
        assert daemon.process is not None and daemon.alive(), f"{daemon.name} is not running"
        daemon.process.send_signal(signal.SIGTERM)
        try:
            codes[daemon.name] = daemon.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            codes[daemon.name] = None
    return codes


def survivors(pids: set[int]) -> tuple[list[int], list[int]]:
    """Live (non-zombie) processes among `pids`, and live members of their process groups."""
    return [pid for pid in sorted(pids) if pid_alive(pid)], sorted(group_members(pids))
