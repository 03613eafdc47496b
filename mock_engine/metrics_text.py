"""Prometheus exposition texts of the four engines, written the way each engine writes them.

llama.cpp and vLLM counters end in `_total`; TGI (Rust `metrics`) and Triton counters do not.
"""

from __future__ import annotations

from collections.abc import Sequence

from mock_engine.engine import MockEngine


def _family(name: str, kind: str, samples: Sequence[tuple[str, float]]) -> str:
    lines = [f"# HELP {name} {name.replace('_', ' ')}", f"# TYPE {name} {kind}"]
    lines += [f"{sample} {value:g}" for sample, value in samples]
    return "\n".join(lines)


def llamacpp_metrics(engine: MockEngine) -> str:
    """`llamacpp:` families as llama-server --metrics exposes them."""
    s = engine.stats
    return (
        "\n".join(
            [
                _family(
                    "llamacpp:prompt_tokens_total",
                    "counter",
                    [("llamacpp:prompt_tokens_total", s.prompt_tokens_total)],
                ),
                _family(
                    "llamacpp:tokens_predicted_total",
                    "counter",
                    [("llamacpp:tokens_predicted_total", s.generated_tokens_total)],
                ),
                _family(
                    "llamacpp:n_tokens_max", "counter", [("llamacpp:n_tokens_max", engine.config.ctx_max)]
                ),
                _family(
                    "llamacpp:requests_processing", "gauge", [("llamacpp:requests_processing", s.running)]
                ),
                _family("llamacpp:requests_deferred", "gauge", [("llamacpp:requests_deferred", s.queued)]),
            ]
        )
        + "\n"
    )


def vllm_metrics(engine: MockEngine) -> str:
    """`vllm:` families with the model_name and engine labels."""
    s = engine.stats
    labels = f'{{engine="0",model_name="{engine.config.model_id}"}}'
    success = [
        (
            f'vllm:request_success_total{{engine="0",finished_reason="{reason}",model_name="{engine.config.model_id}"}}',
            n,
        )
        for reason, n in sorted(s.finish_reasons.items())
    ]
    return (
        "\n".join(
            [
                _family(
                    "vllm:num_requests_running", "gauge", [(f"vllm:num_requests_running{labels}", s.running)]
                ),
                _family(
                    "vllm:num_requests_waiting", "gauge", [(f"vllm:num_requests_waiting{labels}", s.queued)]
                ),
                _family(
                    "vllm:kv_cache_usage_perc",
                    "gauge",
                    [(f"vllm:kv_cache_usage_perc{labels}", s.running / engine.config.slots)],
                ),
                _family(
                    "vllm:prompt_tokens_total",
                    "counter",
                    [(f"vllm:prompt_tokens_total{labels}", s.prompt_tokens_total)],
                ),
                _family(
                    "vllm:generation_tokens_total",
                    "counter",
                    [(f"vllm:generation_tokens_total{labels}", s.generated_tokens_total)],
                ),
                _family("vllm:request_success_total", "counter", success),
            ]
        )
        + "\n"
    )


def _histogram(name: str, total: float, count: int) -> str:
    samples = [
        (f'{name}_bucket{{le="+Inf"}}', float(count)),
        (f"{name}_sum", total),
        (f"{name}_count", float(count)),
    ]
    return _family(name, "histogram", samples)


def tgi_metrics(engine: MockEngine) -> str:
    """`tgi_` families; counters without `_total`, token totals as histogram sums."""
    s = engine.stats
    return (
        "\n".join(
            [
                _family("tgi_request_count", "counter", [("tgi_request_count", s.started)]),
                _family("tgi_request_success", "counter", [("tgi_request_success", s.finished)]),
                _family("tgi_queue_size", "gauge", [("tgi_queue_size", s.queued)]),
                _family("tgi_batch_current_size", "gauge", [("tgi_batch_current_size", s.running)]),
                _histogram("tgi_request_input_length", s.prompt_tokens_total, s.started),
                _histogram("tgi_request_generated_tokens", s.generated_tokens_total, s.finished),
            ]
        )
        + "\n"
    )


def triton_metrics(engine: MockEngine, model: str) -> str:
    """`nv_` families with model/version labels; TensorRT-LLM request and KV gauges."""
    s = engine.stats
    labels = f'model="{model}",version="1"'
    trt = "nv_trt_llm_request_metrics"
    return (
        "\n".join(
            [
                _family(
                    "nv_inference_request_success",
                    "counter",
                    [(f"nv_inference_request_success{{{labels}}}", s.finished)],
                ),
                _family("nv_inference_count", "counter", [(f"nv_inference_count{{{labels}}}", s.started)]),
                _family(
                    "nv_inference_pending_request_count",
                    "gauge",
                    [(f"nv_inference_pending_request_count{{{labels}}}", s.queued)],
                ),
                _family(
                    trt,
                    "gauge",
                    [
                        (f'{trt}{{model="tensorrt_llm",request_type="active",version="1"}}', s.running),
                        (f'{trt}{{model="tensorrt_llm",request_type="waiting",version="1"}}', s.queued),
                        (
                            f'{trt}{{model="tensorrt_llm",request_type="max",version="1"}}',
                            engine.config.slots,
                        ),
                    ],
                ),
                _family(
                    "nv_trt_llm_kv_cache_block_metrics",
                    "gauge",
                    [
                        (
                            'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",model="tensorrt_llm",version="1"}',
                            s.running / engine.config.slots,
                        )
                    ],
                ),
            ]
        )
        + "\n"
    )
