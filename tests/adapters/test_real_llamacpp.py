"""The llama.cpp and vLLM adapters against a REAL llama-server running the bundled SmolLM2 model.

vLLM speaks the same OpenAI wire as llama-server's /v1 routes; what llama-server lacks (/version,
`max_model_len`, `vllm:` metrics) the vLLM adapter reports as "unknown", `meta.n_ctx` and None.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass, replace

import pytest

from orchestrator_core.errors import InvalidParams
from test_harness.llama_server import LlamaServer, llama_server
from tests.adapters.helpers import collect, fast_options
from worker_adapters.factory import create_adapter
from worker_adapters.protocol import EngineAdapter
from worker_adapters.types import ChatMessage, GenerateRequest, TokenEvent

pytestmark = [pytest.mark.real_engine, pytest.mark.timeout(120), pytest.mark.req("ORCH-9016")]


@dataclass
class RealEngine:
    server: LlamaServer
    startup_states: list[str]


async def _watch_startup(base_url: str, timeout_s: float = 60.0) -> list[str]:
    """Health states the adapter reports from process start until ready."""
    adapter = create_adapter("llamacpp", base_url, fast_options())
    states: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            health = await adapter.health()
            states.append(health.state)
            if health.ready:
                break
            await asyncio.sleep(0.05)
    finally:
        await adapter.aclose()
    return states


@pytest.fixture(scope="module")
def real_engine() -> Iterator[RealEngine]:
    with llama_server(wait=False) as server:
        states = asyncio.run(_watch_startup(server.base_url))
        server.wait_ready(5)
        yield RealEngine(server, states)


def adapter(engine: str, real: RealEngine) -> EngineAdapter:
    options = fast_options(idle_timeout_s=10.0, first_token_timeout_s=30.0, slots_total=1)
    return create_adapter(engine, real.server.base_url, options)


GREEDY = GenerateRequest(prompt="The capital of France is", max_tokens=16, seed=1, temperature=0.0)


@pytest.mark.req("ORCH-7008", "ORCH-7010")
def test_health_is_starting_until_the_model_is_loaded_then_ready(real_engine: RealEngine) -> None:
    states = real_engine.startup_states
    assert states[0] == "starting"
    assert states[-1] == "ready"
    assert "dead" not in states


@pytest.mark.req("ORCH-7010", "ORCH-7001")
async def test_props_read_slots_context_and_build(real_engine: RealEngine) -> None:
    llama = adapter("llamacpp", real_engine)
    try:
        props = await llama.props()
    finally:
        await llama.aclose()
    assert (props.slots_total, props.slots_idle, props.ctx_max) == (1, 1, 2048)
    assert props.engine == "llamacpp"
    assert props.engine_version == "b0-unknown"
    assert "SmolLM2" in props.model_id


@pytest.mark.req("ORCH-7010", "ORCH-7002", "ORCH-7007")
async def test_native_stream_gives_indexed_tokens_final_counts_and_metrics(real_engine: RealEngine) -> None:
    llama = adapter("llamacpp", real_engine)
    try:
        before = await llama.metrics()
        tokens, final = await collect(llama, GREEDY)
        after = await llama.metrics()
    finally:
        await llama.aclose()
    assert [t.index for t in tokens] == list(range(len(tokens)))
    assert "Paris" in "".join(t.text for t in tokens)
    assert (final.tokens_out, final.stop_reason) == (16, "limit")
    assert final.tokens_in > 0
    assert after.tokens_out_total is not None and before.tokens_out_total is not None
    assert after.tokens_out_total - before.tokens_out_total == 16
    assert after.requests_running == 0


@pytest.mark.req("ORCH-7010", "ORCH-7002")
async def test_stop_string_ends_the_stream_with_stop(real_engine: RealEngine) -> None:
    llama = adapter("llamacpp", real_engine)
    try:
        tokens, final = await collect(llama, replace(GREEDY, stop=(".",)))
    finally:
        await llama.aclose()
    text = "".join(t.text for t in tokens)
    assert final.stop_reason == "stop"
    assert "Paris" in text and "." not in text


@pytest.mark.req("ORCH-7006", "ORCH-3501", "ORCH-9011")
async def test_same_seed_gives_identical_sampled_text(real_engine: RealEngine) -> None:
    sampled = GenerateRequest(
        prompt="Once upon a time", max_tokens=24, seed=1234, temperature=0.9, top_k=40, top_p=0.95
    )
    llama = adapter("llamacpp", real_engine)
    try:
        first, _ = await collect(llama, sampled)
        second, _ = await collect(llama, sampled)
    finally:
        await llama.aclose()
    assert [t.text for t in first] == [t.text for t in second]
    assert len(first) == 24


@pytest.mark.req("ORCH-7003", "ORCH-1031")
async def test_closing_the_stream_frees_the_slot(real_engine: RealEngine) -> None:
    llama = adapter("llamacpp", real_engine)
    try:
        before = await llama.metrics()
        long = GenerateRequest(
            prompt="Once upon a time", max_tokens=1000, seed=1234, temperature=0.9, top_k=40
        )
        async with aclosing(llama.stream(long)) as events:
            async for event in events:
                if isinstance(event, TokenEvent) and event.index == 2:
                    busy = await llama.props()
                    break
        closed_at = time.monotonic()
        while (await llama.props()).slots_idle != 1:
            assert time.monotonic() - closed_at < 3.0, "the slot stayed busy after the stream was closed"
            await asyncio.sleep(0.02)
        freed_after = time.monotonic() - closed_at
        after = await llama.metrics()
    finally:
        await llama.aclose()
    assert busy.slots_idle == 0
    assert freed_after < 2.0  # llama-server notices a closed connection at the next write or within ~1 s
    assert after.requests_running == 0
    assert after.tokens_out_total is not None and before.tokens_out_total is not None
    assert after.tokens_out_total - before.tokens_out_total < 200, "generation went on after the close"


@pytest.mark.req("ORCH-7010", "ORCH-7004")
async def test_prompt_beyond_the_context_is_invalid_params(real_engine: RealEngine) -> None:
    llama = adapter("llamacpp", real_engine)
    try:
        with pytest.raises(InvalidParams, match="context"):
            await collect(llama, GenerateRequest(prompt="hello " * 2100, max_tokens=2, seed=1))
    finally:
        await llama.aclose()


@pytest.mark.req("ORCH-7010", "ORCH-7011")
@pytest.mark.parametrize("engine", ["llamacpp", "vllm"])
async def test_chat_streams_tokens_with_usage(real_engine: RealEngine, engine: str) -> None:
    chat = GenerateRequest(
        workload="chat", messages=(ChatMessage("user", "Say hello."),), max_tokens=8, seed=2, temperature=0.0
    )
    client = adapter(engine, real_engine)
    try:
        tokens, final = await collect(client, chat)
    finally:
        await client.aclose()
    assert tokens and [t.index for t in tokens] == list(range(len(tokens)))
    assert final.tokens_in > 0
    assert final.tokens_out == len(tokens) or final.stop_reason == "eos"


@pytest.mark.req("ORCH-7011")
async def test_vllm_adapter_on_llama_server_streams_the_same_greedy_text(real_engine: RealEngine) -> None:
    vllm, llama = adapter("vllm", real_engine), adapter("llamacpp", real_engine)
    try:
        via_openai, final = await collect(vllm, GREEDY)
        via_native, _ = await collect(llama, GREEDY)
    finally:
        await vllm.aclose()
        await llama.aclose()
    assert "".join(t.text for t in via_openai) == "".join(t.text for t in via_native)
    assert (final.tokens_out, final.stop_reason) == (16, "limit")
    assert final.tokens_in > 0


@pytest.mark.req("ORCH-7011", "ORCH-7008")
async def test_vllm_adapter_probes_llama_server_tolerantly(real_engine: RealEngine) -> None:
    vllm = adapter("vllm", real_engine)
    try:
        health = await vllm.health()
        props = await vllm.props()
        metrics = await vllm.metrics()
    finally:
        await vllm.aclose()
    assert health.state == "ready"
    assert (props.ctx_max, props.engine_version, props.slots_total) == (2048, "unknown", 1)
    assert "SmolLM2" in props.model_id
    assert (metrics.tokens_in_total, metrics.tokens_out_total, metrics.requests_running) == (None, None, 0)
