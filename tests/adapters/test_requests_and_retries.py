"""What the adapters send (explicit sampling, strict mode), request validation, and the retry policy."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from orchestrator_core.errors import InvalidParams
from tests.adapters.helpers import fast_options, request
from tests.adapters.scripted_engine import Reply, ScriptedEngine
from worker_adapters.factory import create_adapter
from worker_adapters.retry import RetryPolicy
from worker_adapters.types import ChatMessage, GenerateRequest

BASE = "http://engine.test"
PATHS = {
    "llamacpp": "/completion",
    "vllm": "/v1/completions",
    "tgi": "/generate_stream",
    "triton": "/v2/models/ensemble/generate_stream",
}


async def sent_body(engine: str, req: GenerateRequest, path: str | None = None) -> dict[str, object]:
    """The JSON body the adapter posts for `req` (the engine answers 400 to end the call)."""
    async with ScriptedEngine() as server:
        stop = Reply.plain(400, b'{"error":"stop"}', "application/json")
        route = server.route("POST", path or PATHS[engine], stop)
        adapter = create_adapter(engine, server.base_url, fast_options())
        try:
            with pytest.raises(InvalidParams):
                async for _ in adapter.stream(req):
                    pass
        finally:
            await adapter.aclose()
    body: dict[str, object] = orjson.loads(route.last.body)
    return body


SAMPLED: dict[str, Any] = {
    "max_tokens": 9,
    "seed": 42,
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 40,
    "stop": ("END",),
}


@pytest.mark.req("ORCH-7006", "ORCH-3502", "ORCH-7010")
@pytest.mark.parametrize(("mode", "cache"), [("strict", False), ("best_effort", True)])
async def test_llamacpp_sends_every_sampler_and_disables_the_prompt_cache_in_strict_mode(
    mode: str, cache: bool
) -> None:
    body = await sent_body("llamacpp", request(determinism=mode, **SAMPLED))
    assert body["cache_prompt"] is cache
    expected = {"n_predict": 9, "seed": 42, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "stop": ["END"]}
    assert {key: body[key] for key in expected} == expected
    assert (body["min_p"], body["repeat_penalty"], body["stream"]) == (0.0, 1.0, True)


@pytest.mark.req("ORCH-7006", "ORCH-7010")
async def test_llamacpp_chat_goes_to_the_openai_route_with_the_cache_off() -> None:
    chat = GenerateRequest(workload="chat", messages=(ChatMessage("user", "hi"),), max_tokens=3, seed=1)
    body = await sent_body("llamacpp", chat, "/v1/chat/completions")
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["cache_prompt"] is False
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.req("ORCH-7006", "ORCH-7011")
async def test_vllm_sends_every_sampler_and_asks_for_usage() -> None:
    body = await sent_body("vllm", request(**SAMPLED))
    expected = {"max_tokens": 9, "seed": 42, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "stop": ["END"]}
    assert {key: body[key] for key in expected} == expected
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.req("ORCH-7006", "ORCH-7012")
async def test_tgi_sends_greedy_as_do_sample_false_without_sampler_fields() -> None:
    body = await sent_body("tgi", request(max_tokens=5, seed=3, temperature=0.0, top_p=1.0, top_k=0))
    assert body["parameters"] == {
        "max_new_tokens": 5,
        "seed": 3,
        "stop": [],
        "details": True,
        "do_sample": False,
        "return_full_text": False,
    }


@pytest.mark.req("ORCH-7006", "ORCH-7012")
async def test_tgi_sends_sampling_fields_when_sampling() -> None:
    body = await sent_body("tgi", request(**SAMPLED))
    parameters = body["parameters"]
    assert isinstance(parameters, dict)
    assert parameters["do_sample"] is True
    assert (parameters["temperature"], parameters["top_p"], parameters["top_k"]) == (0.7, 0.9, 40)
    assert (parameters["seed"], parameters["max_new_tokens"], parameters["stop"]) == (42, 9, ["END"])


@pytest.mark.req("ORCH-7006", "ORCH-7013")
async def test_triton_sends_ensemble_inputs_with_every_sampler() -> None:
    body = await sent_body("triton", request(**SAMPLED))
    expected = {
        "max_tokens": 9,
        "seed": 42,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "stop_words": ["END"],
    }
    assert {key: body[key] for key in expected} == expected
    assert (body["beam_width"], body["stream"], body["return_num_output_tokens"]) == (1, True, True)


@pytest.mark.req("ORCH-7001")
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"stop": ("",)}, "stop"),
        ({"prompt": None}, "prompt"),
        ({"workload": "chat"}, "messages"),
        ({"workload": "embed"}, "workload"),
        ({"determinism": "maybe"}, "determinism"),
    ],
)
def test_bad_request_fields_raise_invalid_params_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {"prompt": "hi", "max_tokens": 4, "seed": 1} | changes
    with pytest.raises(InvalidParams, match=f"^{field}:"):
        GenerateRequest(**values)  # type: ignore[arg-type]


@pytest.mark.req("ORCH-7001")
@pytest.mark.parametrize(
    ("engine", "url"), [("ollama", BASE), ("vllm", "engine.test:8000"), ("tgi", "ftp://x")]
)
def test_factory_refuses_unknown_engines_and_urls(engine: str, url: str) -> None:
    with pytest.raises(InvalidParams):
        create_adapter(engine, url)


@pytest.mark.req("ORCH-7005")
def test_retry_delays_are_full_jitter_up_to_the_capped_exponential() -> None:
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high / 2

    policy = RetryPolicy(attempts=6, base_s=0.1, cap_s=0.5, uniform=uniform)
    delays = [policy.delay(n) for n in range(5)]
    assert bounds == [(0.0, 0.1), (0.0, 0.2), (0.0, 0.4), (0.0, 0.5), (0.0, 0.5)]
    assert delays == [0.05, 0.1, 0.2, 0.25, 0.25]


@pytest.mark.req("ORCH-7005")
def test_default_retry_delays_stay_within_the_bounds() -> None:
    policy = RetryPolicy(base_s=0.1, cap_s=0.3)
    for n in range(6):
        assert 0.0 <= policy.delay(n) <= min(0.3, 0.1 * 2**n)
