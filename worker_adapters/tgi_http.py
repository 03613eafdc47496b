"""Hugging Face TGI adapter (ORCH-7012): /generate_stream, /info, /health, `tgi_` metrics.

Wire facts: events are framed `data:` without a space; the last event carries a non-null
`generated_text` and, with `details: true`, the finish reason and token counts; there is no `[DONE]`.
TGI rejects neutral sampling values (temperature 0, top_p 1, top_k 0), so greedy decoding is sent as
`do_sample: false` with no sampler fields and neutral values are expressed by leaving them out.
Chat goes through TGI's OpenAI-compatible route. Counters have no `_total` suffix on the wire.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Final

from orchestrator_core.errors import Internal, InvalidParams, OrchError, PoolUnavailable
from worker_adapters.embeddings import not_served
from worker_adapters.errors import error_from_event
from worker_adapters.http_base import HttpEngine
from worker_adapters.openai_wire import OpenAIDecoder
from worker_adapters.prom import as_count, family_value, parse_families
from worker_adapters.sampling import openai_body
from worker_adapters.types import EngineMetrics, GenerateRequest, Health, Props, StopReason, StreamEvent
from worker_adapters.wire import (
    Finish,
    Piece,
    WireCall,
    as_dict,
    load_event,
    optional_int,
    refused,
    truncated,
)

ENGINE: Final = "tgi"
_FINISH: dict[str, StopReason] = {"length": "limit", "eos_token": "eos", "stop_sequence": "stop"}
_ERROR_TYPES: dict[str, type[OrchError]] = {"validation": InvalidParams, "overloaded": PoolUnavailable}


def generate_body(request: GenerateRequest) -> dict[str, Any]:
    """The /generate_stream body with explicit sampling in the form TGI's validation accepts."""
    parameters: dict[str, Any] = {
        "max_new_tokens": request.max_tokens,
        "seed": request.seed,
        "stop": list(request.stop),
        "details": True,
        "do_sample": request.temperature > 0,
        "return_full_text": False,
    }
    if request.temperature > 0:
        parameters["temperature"] = request.temperature
        if request.top_p < 1:
            parameters["top_p"] = request.top_p
        if request.top_k > 0:
            parameters["top_k"] = request.top_k
    return {"inputs": request.prompt, "parameters": parameters}


class TgiStreamDecoder:
    """Decodes /generate_stream events."""

    def feed(self, data: str) -> list[Piece]:
        """The token text of one event (special tokens carry no text), plus the Finish on the last."""
        payload = load_event(data, ENGINE)
        if not isinstance(payload, dict):
            raise Internal("tgi sent an event that is not an object", engine=ENGINE)
        if "error" in payload:
            error_class = _ERROR_TYPES.get(str(payload.get("error_type")))
            if error_class is not None:
                raise error_class(f"tgi stream error: {payload['error']}", engine=ENGINE)
            raise error_from_event(payload, ENGINE)
        pieces: list[Piece] = []
        token = payload.get("token")
        if isinstance(token, dict) and not token.get("special") and isinstance(token.get("text"), str):
            pieces.append(token["text"])
        if payload.get("generated_text") is not None:
            details = as_dict(payload.get("details"))
            pieces.append(
                Finish(
                    stop_reason=_FINISH.get(str(details.get("finish_reason")), "eos"),
                    tokens_in=optional_int(details.get("input_length")),
                    tokens_out=optional_int(details.get("generated_tokens")),
                )
            )
        return pieces

    def at_eof(self) -> Finish:
        """The stream always ends with an event carrying generated_text."""
        raise truncated(ENGINE)


class TgiHttpAdapter:
    """EngineAdapter for one TGI router."""

    def __init__(self, http: HttpEngine) -> None:
        self._http = http

    async def health(self) -> Health:
        """/health: 200 ready, 503 unhealthy (dead), refused while the shards load."""
        return await self._http.health_at("/health")

    async def props(self) -> Props:
        """Identity and limits from /info; busy slots from metrics."""
        info = await self._http.get_json("/info")
        slots_total = self._http.options.slots_total or optional_int(info.get("max_concurrent_requests")) or 1
        running = (await self.metrics()).requests_running
        sha = info.get("model_sha")
        return Props(
            slots_total=slots_total,
            slots_idle=max(slots_total - running, 0),
            ctx_max=optional_int(info.get("max_total_tokens")) or self._http.options.ctx_max or 0,
            model_id=str(info.get("model_id") or "unknown"),
            # model_sha is the hub revision, not a file hash; null for local directories.
            model_digest=str(sha) if sha else None,
            engine=ENGINE,
            engine_version=str(info.get("version") or "unknown"),
        )

    async def metrics(self) -> EngineMetrics:
        """`tgi_` families; token totals are the sums of the per-request histograms."""
        families = parse_families(await self._http.metrics_text(), ENGINE)
        return EngineMetrics(
            tokens_in_total=as_count(family_value(families, "tgi_request_input_length")),
            tokens_out_total=as_count(family_value(families, "tgi_request_generated_tokens")),
            requests_running=as_count(family_value(families, "tgi_batch_current_size")) or 0,
            requests_queued=as_count(family_value(families, "tgi_queue_size")) or 0,
            kv_cache_usage=None,
        )

    def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        """/generate_stream for completions, the OpenAI chat route for chat."""
        if request.workload == "embedding":
            return refused(not_served(ENGINE))
        if request.workload == "chat":
            body = openai_body(request, self._http.options.model or "tgi")
            body.pop("top_k")  # TGI's chat route has no top_k
            if request.top_p >= 1:
                body.pop("top_p")  # TGI validates top_p strictly inside (0, 1)
            call = WireCall("/v1/chat/completions", body)
            return self._http.driver.run(call, lambda: OpenAIDecoder(ENGINE, chat=True))
        return self._http.driver.run(WireCall("/generate_stream", generate_body(request)), TgiStreamDecoder)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
