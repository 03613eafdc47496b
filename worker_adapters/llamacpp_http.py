"""llama.cpp `llama-server` adapter (ORCH-7010): native /completion streams, OpenAI chat, probes, metrics.

Wire facts: the native stream ends with an event whose `"stop": true` (content empty in stream mode)
and no `[DONE]`; 503 `unavailable_error` means the model is loading; /props gives `total_slots`,
`default_generation_settings.n_ctx` and `build_info`; /slots gives `is_processing` per slot; metrics
are `llamacpp:*` families and need `--metrics`. Strict determinism sends `cache_prompt: false`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import PurePath
from typing import Any, Final

import orjson

from orchestrator_core.errors import Internal
from worker_adapters.embeddings import embeddings_stream
from worker_adapters.errors import error_from_event
from worker_adapters.http_base import HttpEngine
from worker_adapters.openai_wire import OpenAIDecoder
from worker_adapters.prom import as_count, family_value, parse_families
from worker_adapters.sampling import openai_body, penalties
from worker_adapters.tool_calls import forced_tool
from worker_adapters.types import (
    EngineMetrics,
    GenerateRequest,
    Health,
    Props,
    StopReason,
    StreamEvent,
)
from worker_adapters.wire import (
    Finish,
    Piece,
    WireCall,
    as_dict,
    load_event,
    optional_float,
    optional_int,
    truncated,
)

ENGINE: Final = "llamacpp"
_STOP_TYPES: dict[str, StopReason] = {"eos": "eos", "limit": "limit", "word": "stop"}


def native_body(request: GenerateRequest) -> dict[str, Any]:
    """The /completion body: every sampler explicit, prompt cache off in strict mode (ORCH-3502)."""
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "stream": True,
        "n_predict": request.max_tokens,
        "seed": request.seed,
        "temperature": request.temperature,
        "top_k": request.top_k,
        "top_p": request.top_p,
        "min_p": 0.0,
        "repeat_penalty": 1.0,
        "stop": list(request.stop),
        "cache_prompt": request.determinism != "strict",
        **penalties(request),
    }
    if request.logit_bias is not None:  # the native route takes [token id, bias] pairs
        biases = orjson.loads(request.logit_bias)
        body["logit_bias"] = [[int(token), bias] for token, bias in biases.items()]
    return body


class LlamaNativeDecoder:
    """Decodes the native /completion stream."""

    def feed(self, data: str) -> list[Piece]:
        """The content of a partial event, plus the Finish on the `stop: true` event."""
        payload = load_event(data, ENGINE)
        if not isinstance(payload, dict):
            raise Internal("llamacpp sent an event that is not an object", engine=ENGINE)
        if "error" in payload:
            raise error_from_event(payload, ENGINE)
        pieces: list[Piece] = []
        content = payload.get("content")
        if isinstance(content, str) and content:
            pieces.append(content)
        if payload.get("stop") is True:
            timings = as_dict(payload.get("timings"))
            pieces.append(
                Finish(
                    stop_reason=_STOP_TYPES.get(str(payload.get("stop_type")), "eos"),
                    tokens_in=optional_int(payload.get("tokens_evaluated")),
                    tokens_out=optional_int(payload.get("tokens_predicted")),
                    engine_prompt_ms=optional_float(timings.get("prompt_ms")),
                    engine_decode_ms=optional_float(timings.get("predicted_ms")),
                )
            )
        return pieces

    def at_eof(self) -> Finish:
        """The native stream always ends with a `stop: true` event."""
        raise truncated(ENGINE)


class LlamaCppHttpAdapter:
    """EngineAdapter for one llama-server process."""

    def __init__(self, http: HttpEngine) -> None:
        self._http = http

    async def health(self) -> Health:
        """/health: 200 ready, 503 loading, refused starting (or dead once it was ready)."""
        return await self._http.health_at("/health", loading_status=503)

    async def props(self) -> Props:
        """Capacity from /props and /slots (falling back to metrics when /slots is disabled)."""
        props = await self._http.get_json("/props")
        settings = as_dict(props.get("default_generation_settings"))
        slots_total = optional_int(props.get("total_slots")) or 1
        model = props.get("model_alias") or props.get("model_path") or "unknown"
        return Props(
            slots_total=slots_total,
            slots_idle=await self._slots_idle(slots_total),
            ctx_max=optional_int(settings.get("n_ctx")) or self._http.options.ctx_max or 0,
            model_id=PurePath(str(model)).name,
            model_digest=None,
            engine=ENGINE,
            engine_version=str(props.get("build_info") or "unknown"),
        )

    async def _slots_idle(self, slots_total: int) -> int:
        response = await self._http.get("/slots")
        if response.status_code == 200:
            slots = load_event(response.text, ENGINE)
            if isinstance(slots, list):
                return sum(1 for slot in slots if isinstance(slot, dict) and not slot.get("is_processing"))
        running = (await self.metrics()).requests_running
        return max(slots_total - running, 0)

    async def metrics(self) -> EngineMetrics:
        """`llamacpp:` families from /metrics (the engine must run with --metrics)."""
        families = parse_families(await self._http.metrics_text(), ENGINE)
        return EngineMetrics(
            tokens_in_total=as_count(family_value(families, "llamacpp:prompt_tokens")),
            tokens_out_total=as_count(family_value(families, "llamacpp:tokens_predicted")),
            requests_running=as_count(family_value(families, "llamacpp:requests_processing")) or 0,
            requests_queued=as_count(family_value(families, "llamacpp:requests_deferred")) or 0,
            kv_cache_usage=family_value(families, "llamacpp:kv_cache_usage_ratio"),
        )

    def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        """Native /completion for completions, /v1/chat/completions for chat, /v1/embeddings."""
        if request.workload == "embedding":
            return embeddings_stream(self._http, request, self._http.options.model)
        if request.workload == "chat":
            # llama-server accepts a required tool call without enforcing it, so it is forced as JSON.
            body = openai_body(request, self._http.options.model, force_calls=True)
            body["cache_prompt"] = request.determinism != "strict"
            body["min_p"] = 0.0
            body["repeat_penalty"] = 1.0
            call = WireCall("/v1/chat/completions", body)
            seed = request.seed if forced_tool(request) else None
            return self._http.driver.run(
                call, lambda: OpenAIDecoder(ENGINE, chat=True, forced_call_seed=seed)
            )
        return self._http.driver.run(WireCall("/completion", native_body(request)), LlamaNativeDecoder)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
