"""vLLM adapter (ORCH-7011): OpenAI-compatible streams with include_usage and `[DONE]`, probes, metrics.

vLLM is unreachable (connection refused) until the model is loaded and answers /health 503 only when
its engine died. It has no slot notion: `slots_total` comes from the options (its --max-num-seqs).
The same adapter runs against llama-server's OpenAI routes, which lack /version and
`max_model_len`; those fall back to "unknown" and `meta.n_ctx`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Final

from orchestrator_core.errors import OrchError
from worker_adapters.embeddings import embeddings_stream
from worker_adapters.http_base import HttpEngine
from worker_adapters.openai_wire import OpenAIDecoder
from worker_adapters.prom import as_count, family_value, first_value, parse_families
from worker_adapters.sampling import openai_body
from worker_adapters.types import EngineMetrics, GenerateRequest, Health, Props, StreamEvent
from worker_adapters.wire import WireCall, as_dict, optional_int

ENGINE: Final = "vllm"
DEFAULT_MAX_NUM_SEQS = 128


class VllmHttpAdapter:
    """EngineAdapter for one vLLM OpenAI-compatible server."""

    def __init__(self, http: HttpEngine) -> None:
        self._http = http

    async def health(self) -> Health:
        """/health: 200 ready, 503 dead engine, refused while loading."""
        return await self._http.health_at("/health")

    async def props(self) -> Props:
        """Model and context from /v1/models, version from /version, busy slots from metrics."""
        models = await self._http.get_json("/v1/models")
        entries = [m for m in models.get("data") or () if isinstance(m, dict)]
        wanted = self._http.options.model
        entry = next((m for m in entries if m.get("id") == wanted), entries[0] if entries else {})
        meta = as_dict(entry.get("meta"))
        slots_total = self._http.options.slots_total or DEFAULT_MAX_NUM_SEQS
        running = (await self.metrics()).requests_running
        return Props(
            slots_total=slots_total,
            slots_idle=max(slots_total - running, 0),
            ctx_max=optional_int(entry.get("max_model_len"))
            or optional_int(meta.get("n_ctx"))
            or self._http.options.ctx_max
            or 0,
            model_id=str(entry.get("id") or "unknown"),
            model_digest=None,
            engine=ENGINE,
            engine_version=await self._version(),
        )

    async def _version(self) -> str:
        try:
            version = await self._http.get_json("/version")
        except OrchError:
            return "unknown"
        return str(version.get("version") or "unknown") if isinstance(version, dict) else "unknown"

    async def metrics(self) -> EngineMetrics:
        """`vllm:` families; KV usage from kv_cache_usage_perc, or gpu_cache_usage_perc on older servers."""
        families = parse_families(await self._http.metrics_text(), ENGINE)
        return EngineMetrics(
            tokens_in_total=as_count(family_value(families, "vllm:prompt_tokens")),
            tokens_out_total=as_count(family_value(families, "vllm:generation_tokens")),
            requests_running=as_count(family_value(families, "vllm:num_requests_running")) or 0,
            requests_queued=as_count(family_value(families, "vllm:num_requests_waiting")) or 0,
            kv_cache_usage=first_value(
                families, ("vllm:kv_cache_usage_perc", None), ("vllm:gpu_cache_usage_perc", None)
            ),
        )

    def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        """/v1/completions or /v1/chat/completions with stream_options.include_usage; /v1/embeddings."""
        if request.workload == "embedding":
            return embeddings_stream(self._http, request, self._http.options.model)
        chat = request.workload == "chat"
        path = "/v1/chat/completions" if chat else "/v1/completions"
        call = WireCall(path, openai_body(request, self._http.options.model))
        return self._http.driver.run(call, lambda: OpenAIDecoder(ENGINE, chat=chat))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
