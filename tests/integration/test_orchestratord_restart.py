"""orchestratord killed and started again on the same port: both hosts register again by themselves and serve,
and a client in between gets a refused connection or a 503 envelope, never a hang."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from test_harness.chaos.stack import NodePlan
from tests.integration.two_hosts import Stream, TwoHosts, eventually, replica_ids, two_hosts

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
PLANS = [
    NodePlan("host-a", ["pool-a"], replicas=1, model="a", token_delay_ms=40),
    NodePlan("host-b", ["pool-b"], replicas=1, model="b"),
]
CLEAN_503 = {"POOL_UNAVAILABLE", "POOL_UNREADY"}
PROBE_TIMEOUT_S = 5.0
ANSWER_WITHIN_S = 2.0


def probe(hosts: TwoHosts, model: str) -> tuple[str, float]:
    """What a client submitting a task sees now: "refused", "503 <code>", or "202"; and how long it took."""
    started = time.monotonic()
    try:
        with hosts.client(hosts.keys.client, timeout_s=PROBE_TIMEOUT_S) as client:
            response = client.post("/v1/tasks", json={"model_ref": model, "prompt": "probe", "max_tokens": 2})
    except httpx.ConnectError:
        return "refused", time.monotonic() - started
    seconds = time.monotonic() - started
    if response.status_code == 503:
        envelope: dict[str, Any] = response.json()
        assert envelope["retriable"] is True and envelope["correlation_id"], envelope
        return f"503 {envelope['code']}", seconds
    assert response.status_code == 202, response.text
    hosts.follow(str(response.json()["task_id"]))
    return "202", seconds


def read_until_cut(hosts: TwoHosts, task_id: str) -> tuple[str, float]:
    """Reads a stream that the server's death cuts; returns how it ended and when (monotonic)."""
    try:
        seen: Stream = hosts.follow(task_id, timeout_s=30)
    except httpx.TransportError as exc:
        return type(exc).__name__, time.monotonic()
    return f"completed: {seen.events[-1:]}", time.monotonic()


def tokens_out(hosts: TwoHosts, task_id: str) -> int:
    with hosts.client(hosts.keys.client) as client:
        return int(client.get(f"/v1/tasks/{task_id}").json()["tokens_out"])


def registrations_ok(hosts: TwoHosts, host_id: str) -> float:
    with hosts.node_api(host_id) as api:
        text = api.get("/metrics").text
    line = next(x for x in text.splitlines() if x.startswith('poolmgr_registrations_total{result="ok"}'))
    return float(line.split()[-1])


@pytest.mark.req("ORCH-6013", "ORCH-1110", "ORCH-1111", "ORCH-1113", "ORCH-1072", "ORCH-9012")
def test_restarted_orchestratord_is_rejoined_by_both_hosts_and_clients_get_clean_errors() -> None:
    with two_hosts(PLANS) as hosts, ThreadPoolExecutor(1) as reader:
        stack = hosts.stack
        model_a, model_b = str(stack.model_a), str(stack.model_b)
        before = {host: registrations_ok(hosts, host) for host in ("host-a", "host-b")}
        admitted = hosts.submit(model_a, max_tokens=200)
        assert admitted.status_code == 202, admitted.text
        task_id = str(admitted.json()["task_id"])
        cut = reader.submit(read_until_cut, hosts, task_id)
        eventually("tokens are streaming", lambda: tokens_out(hosts, task_id) >= 3, 10)

        killed_at = time.monotonic()
        stack.kill(stack.orchestratord)
        how, when = cut.result(timeout=10)
        assert how in {"RemoteProtocolError", "ReadError"}, how
        assert when - killed_at < ANSWER_WITHIN_S

        outcomes = [probe(hosts, model_a) for _ in range(3)]
        assert {outcome for outcome, _ in outcomes} == {"refused"}, outcomes
        stack.start(stack.orchestratord)

        def both_back() -> bool:
            outcomes.append(probe(hosts, model_a))
            outcomes.append(probe(hosts, model_b))
            return outcomes[-2][0] == outcomes[-1][0] == "202"

        eventually("both hosts serve again through the new orchestratord", both_back, 30, every_s=0.1)
        seen = {outcome for outcome, _ in outcomes}
        assert seen <= {"refused", "202"} | {f"503 {code}" for code in CLEAN_503}, outcomes
        assert max(seconds for _, seconds in outcomes) < ANSWER_WITHIN_S, outcomes

        nodes = hosts.nodes()
        assert sorted(nodes) == ["host-a", "host-b"]
        assert all(node["live"] and node["replicas_ready"] == 1 for node in nodes.values()), nodes
        for host in ("host-a", "host-b"):
            assert registrations_ok(hosts, host) > before[host]
        for model, host_id, pool_id in ((model_a, "host-a", "pool-a"), (model_b, "host-b", "pool-b")):
            run = hosts.run(model)
            assert run.terminal[0] == "end", run.events
            assert run.started["replica_id"] in replica_ids(hosts.node_pools(host_id), pool_id)
