"""Metrics are read by family name from each engine's exposition text (ORCH-7007)."""

from __future__ import annotations

import httpx
import pytest
import respx

from orchestrator_core.errors import Internal
from tests.adapters.helpers import fast_options
from worker_adapters.factory import create_adapter
from worker_adapters.types import EngineMetrics

BASE = "http://engine.test"

LLAMACPP = """# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 120
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 345
# HELP llamacpp:n_tokens_max Largest observed sequence length
# TYPE llamacpp:n_tokens_max counter
llamacpp:n_tokens_max 2048
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 1
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 2
"""
VLLM_OLD = """# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 4
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.25
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 10
vllm:prompt_tokens_total{engine="1",model_name="m"} 5
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="m"} 70
"""
TGI = """# TYPE tgi_request_count counter
tgi_request_count 9
# TYPE tgi_queue_size gauge
tgi_queue_size 2
# TYPE tgi_batch_current_size gauge
tgi_batch_current_size 5
# TYPE tgi_request_input_length histogram
tgi_request_input_length_bucket{le="+Inf"} 9
tgi_request_input_length_sum 90
tgi_request_input_length_count 9
# TYPE tgi_request_generated_tokens histogram
tgi_request_generated_tokens_bucket{le="+Inf"} 9
tgi_request_generated_tokens_sum 300
tgi_request_generated_tokens_count 9
"""
TRITON = """# TYPE nv_inference_request_success counter
nv_inference_request_success{model="ensemble",version="1"} 12
# TYPE nv_inference_pending_request_count gauge
nv_inference_pending_request_count{model="ensemble",version="1"} 7
# TYPE nv_trt_llm_request_metrics gauge
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="active",version="1"} 6
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="max",version="1"} 64
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="waiting",version="1"} 1
# TYPE nv_trt_llm_kv_cache_block_metrics gauge
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",model="tensorrt_llm",version="1"} 0.5
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="used",model="tensorrt_llm",version="1"} 100
"""


async def scrape(engine: str, text: str, status: int = 200) -> EngineMetrics:
    adapter = create_adapter(engine, BASE, fast_options())
    with respx.mock(base_url=BASE) as mock:
        mock.get("/metrics").mock(return_value=httpx.Response(status, text=text))
        try:
            return await adapter.metrics()
        finally:
            await adapter.aclose()


@pytest.mark.req("ORCH-7007", "ORCH-7010")
async def test_llamacpp_families_including_a_counter_without_total() -> None:
    assert await scrape("llamacpp", LLAMACPP) == EngineMetrics(120, 345, 1, 2, None)


@pytest.mark.req("ORCH-7007", "ORCH-7011")
async def test_vllm_sums_label_sets_and_falls_back_to_gpu_cache_usage() -> None:
    assert await scrape("vllm", VLLM_OLD) == EngineMetrics(15, 70, 3, 4, 0.25)


@pytest.mark.req("ORCH-7007", "ORCH-7012")
async def test_tgi_counters_without_total_and_token_histogram_sums() -> None:
    assert await scrape("tgi", TGI) == EngineMetrics(90, 300, 5, 2, None)


@pytest.mark.req("ORCH-7007", "ORCH-7013")
async def test_triton_selects_trt_llm_gauges_by_label() -> None:
    assert await scrape("triton", TRITON) == EngineMetrics(None, None, 6, 1, 0.5)


@pytest.mark.req("ORCH-7007", "ORCH-7004")
async def test_metrics_disabled_on_llamacpp_is_a_typed_error() -> None:
    body = (
        '{"error":{"code":501,"message":"This server does not support metrics endpoint.",'
        '"type":"not_supported_error"}}'
    )
    with pytest.raises(Internal, match="metrics endpoint"):
        await scrape("llamacpp", body, status=501)
