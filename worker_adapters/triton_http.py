"""Triton (TensorRT-LLM ensemble) adapter (ORCH-7013): generate_stream, KServe v2 probes, `nv_` metrics.

Wire facts: /v2/health/ready answers 200 or 400 (never 503); the stream has no end marker and ends at
EOF; an error after the first response arrives as `data: {"error": ...}` inside the 200 stream. The
ensemble reports no finish reason: `limit` when max_tokens were produced, `stop` when the text ends
with a stop word (TensorRT-LLM keeps the stop word in the output), else `eos`. Triton has no
context-size field, so ctx_max comes from the model config parameter `max_seq_len` or the options.
Triton reports no digest of the weights it serves; `model_config()` gives the model's configuration, from
which pool_managerd derives the replica set's model_digest (ORCH-7016).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Final

from orchestrator_core.errors import Internal, InvalidParams
from worker_adapters.errors import body_message, error_from_event
from worker_adapters.http_base import HttpEngine
from worker_adapters.prom import as_count, first_value, parse_families
from worker_adapters.types import EngineMetrics, GenerateRequest, Health, Props, StreamEvent
from worker_adapters.wire import Finish, Piece, WireCall, load_event, optional_int, refused

ENGINE: Final = "triton"
DEFAULT_MODEL = "ensemble"


def generate_body(request: GenerateRequest) -> dict[str, Any]:
    """Ensemble inputs at top level, every sampler explicit, token counts requested."""
    return {
        "text_input": request.prompt,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_k": request.top_k,
        "top_p": request.top_p,
        "seed": request.seed,
        "beam_width": 1,
        "stop_words": list(request.stop),
        "bad_words": [],
        "stream": True,
        "exclude_input_in_output": True,
        "return_num_input_tokens": True,
        "return_num_output_tokens": True,
    }


def _scalar(value: object) -> int | None:
    """A count output tensor, sent as a scalar or a one-element list."""
    if isinstance(value, list) and value:
        value = value[0]
    return optional_int(value)


class TritonStreamDecoder:
    """Decodes generate_stream responses; the end is EOF."""

    def __init__(self, max_tokens: int, stop: tuple[str, ...]) -> None:
        self._max_tokens = max_tokens
        self._stop = stop
        self._text_tail = ""
        self._pieces = 0
        self._tokens_in: int | None = None
        self._tokens_out: int | None = None

    def feed(self, data: str) -> list[Piece]:
        """The text_output delta of one response; an `error` key is an in-stream failure."""
        payload = load_event(data, ENGINE)
        if not isinstance(payload, dict):
            raise Internal("triton sent a response that is not an object", engine=ENGINE)
        if "error" in payload:
            raise error_from_event(payload, ENGINE)
        self._tokens_in = _scalar(payload.get("num_input_tokens")) or self._tokens_in
        self._tokens_out = _scalar(payload.get("num_output_tokens")) or self._tokens_out
        text = payload.get("text_output")
        if isinstance(text, list):
            text = "".join(str(part) for part in text)
        if not isinstance(text, str) or not text:
            return []
        self._pieces += 1
        self._text_tail = (self._text_tail + text)[-256:]
        return [text]

    def at_eof(self) -> Finish:
        """EOF ends every Triton stream; the finish reason is inferred."""
        produced = self._tokens_out if self._tokens_out is not None else self._pieces
        if produced >= self._max_tokens:
            reason: Any = "limit"
        elif any(self._text_tail.endswith(stop) for stop in self._stop):
            reason = "stop"
        else:
            reason = "eos"
        return Finish(stop_reason=reason, tokens_in=self._tokens_in, tokens_out=produced)


class TritonHttpAdapter:
    """EngineAdapter for one model of a Triton server."""

    def __init__(self, http: HttpEngine) -> None:
        self._http = http
        self._model = http.options.model or DEFAULT_MODEL

    async def health(self) -> Health:
        """/v2/health/ready: 200 ready; 400 starting before the first ready, dead after it."""
        response = await self._http.probe("/v2/health/ready")
        if response is None:
            return self._http.unreachable()
        if response.status_code == 200:
            return self._http.ready()
        reason = f"/v2/health/ready answered {response.status_code}: {body_message(response.content)}"
        if response.status_code == 400:
            return self._not_ready(reason)
        return self._http.dead(reason)

    def _not_ready(self, reason: str) -> Health:
        """Live but not ready: still loading, or dead when it had been ready before."""
        if self._http.unreachable().state == "dead":
            return self._http.dead(reason)
        return self._http.starting(reason)

    async def model_config(self) -> dict[str, Any]:
        """The served model's configuration as `GET /v2/models/{model}/config` returns it."""
        config = await self._http.get_json(f"/v2/models/{self._model}/config")
        if not isinstance(config, dict):
            raise Internal(f"triton model {self._model}: /config is not a JSON object", engine=ENGINE)
        return config

    async def props(self) -> Props:
        """Version from /v2, identity from model metadata, batch size and context from the config."""
        server = await self._http.get_json("/v2")
        metadata = await self._http.get_json(f"/v2/models/{self._model}")
        config = await self.model_config()
        slots_total = self._http.options.slots_total or optional_int(config.get("max_batch_size")) or 1
        running = (await self.metrics()).requests_running
        versions = metadata.get("versions") or []
        return Props(
            slots_total=slots_total,
            slots_idle=max(slots_total - running, 0),
            ctx_max=self._ctx_max(config),
            model_id=f"{metadata.get('name', self._model)}:{versions[-1] if versions else '1'}",
            model_digest=None,
            engine=ENGINE,
            engine_version=str(server.get("version") or "unknown"),
        )

    def _ctx_max(self, config: dict[str, Any]) -> int:
        if self._http.options.ctx_max:
            return self._http.options.ctx_max
        parameters = config.get("parameters") or {}
        entry = parameters.get("max_seq_len") if isinstance(parameters, dict) else None
        if isinstance(entry, dict) and str(entry.get("string_value", "")).isdigit():
            return int(entry["string_value"])
        raise Internal(
            f"triton model {self._model} has no max_seq_len parameter; set ctx_max in the adapter options",
            engine=ENGINE,
        )

    async def metrics(self) -> EngineMetrics:
        """`nv_` families: TensorRT-LLM request and KV-cache gauges; Triton exports no token counters."""
        families = parse_families(await self._http.metrics_text(), ENGINE)
        trt = "nv_trt_llm_request_metrics"
        running = first_value(families, (trt, {"request_type": "active"}))
        queued = first_value(
            families, (trt, {"request_type": "waiting"}), ("nv_inference_pending_request_count", None)
        )
        kv = first_value(families, ("nv_trt_llm_kv_cache_block_metrics", {"kv_cache_block_type": "fraction"}))
        return EngineMetrics(
            tokens_in_total=None,
            tokens_out_total=None,
            requests_running=as_count(running) or 0,
            requests_queued=as_count(queued) or 0,
            kv_cache_usage=kv,
        )

    def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        """/v2/models/{model}/generate_stream; the ensemble serves completions only."""
        if request.workload != "completion":
            error = InvalidParams(
                "workload: the triton adapter serves completion workloads only", engine=ENGINE
            )
            return refused(error)
        call = WireCall(f"/v2/models/{self._model}/generate_stream", generate_body(request))
        return self._http.driver.run(call, lambda: TritonStreamDecoder(request.max_tokens, request.stop))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
