"""llama-server emulation: native /completion stream, OpenAI routes, /health, /props, /slots, /metrics.

While loading every route answers 503 `unavailable_error`; the native stream ends with a `stop: true`
event whose content is empty, then the body ends (no `[DONE]`); a mid-stream error is an error event
followed by the end of the body.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_engine.engine import InjectedError, MockEnd, MockEngine, MockToken
from mock_engine.http_common import (
    BadBody,
    ClosingStream,
    field_int,
    field_stop,
    field_str,
    json_response,
    read_object,
    refusal,
    sse,
    text_response,
)
from mock_engine.job import MockJob
from mock_engine.metrics_text import llamacpp_metrics
from mock_engine.openai_wire import openai_routes

BUILD_INFO = "b0-mock"
_ERROR_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    501: "not_supported_error",
    503: "unavailable_error",
}
_STOP_TYPES = {"eos": "eos", "limit": "limit", "stop": "word", "cancel": "none"}


def llama_error(status: int, message: str) -> Response:
    """llama.cpp's error body; the status equals `code`."""
    kind = _ERROR_TYPES.get(status, "server_error")
    if "exceeds the available context" in message:
        kind = "exceed_context_size_error"
    return json_response({"error": {"code": status, "message": message, "type": kind}}, status)


def parse_native(body: dict[str, Any], ctx_max: int) -> MockJob:
    """The job of a /completion body (n_predict > max_completion_tokens > max_tokens; -1 = unbounded)."""
    prompt = field_str(body, "prompt")
    n_predict = -1
    for name in ("n_predict", "max_completion_tokens", "max_tokens"):
        value = field_int(body, name)
        if value is not None:
            n_predict = value
            break
    if n_predict == 0:
        raise BadBody("Field 'n_predict': must not be 0")
    limit = n_predict if n_predict > 0 else ctx_max
    seed = field_int(body, "seed", 0)
    return MockJob(prompt, limit, 0 if seed is None or seed < 0 else seed, field_stop(body, "stop"))


class NativeStream:
    """Renders one job as llama.cpp's native stream."""

    def __init__(self, job: MockJob, model: str) -> None:
        self._job = job
        self._model = model
        self._sent = 0

    async def render(self, engine: MockEngine) -> AsyncGenerator[bytes, None]:
        """Partials, then the `stop: true` event; an injected error ends the body after its event."""
        try:
            async for step in self._job.run(engine):
                yield self._final(step) if isinstance(step, MockEnd) else self._partials(step)
        except InjectedError as exc:
            yield sse({"error": {"code": 500, "message": str(exc), "type": "server_error"}})

    def _partials(self, tokens: list[MockToken]) -> bytes:
        chunks = []
        for token in tokens:
            self._sent += 1
            partial = {
                "index": 0,
                "content": token.text,
                "tokens": [token.token_id],
                "stop": False,
                "id_slot": -1,
                "tokens_predicted": self._sent,
                "tokens_evaluated": self._job.prompt_tokens,
            }
            chunks.append(sse(partial))
        return b"".join(chunks)

    def _final(self, end: MockEnd) -> bytes:
        return sse(
            {
                "index": 0,
                "content": "",
                "tokens": [],
                "id_slot": 0,
                "stop": True,
                "model": self._model,
                "tokens_predicted": end.tokens_out,
                "tokens_evaluated": end.tokens_in,
                "generation_settings": {"seed": self._job.seed, "n_predict": self._job.max_tokens},
                "prompt": self._job.text,
                "truncated": False,
                "stop_type": _STOP_TYPES[end.stop_reason],
                "stopping_word": end.stop_token.text.strip() if end.stop_token else "",
                "tokens_cached": end.tokens_in + end.tokens_out,
                "timings": {
                    "cache_n": 0,
                    "prompt_n": end.tokens_in,
                    "prompt_ms": end.prompt_ms,
                    "predicted_n": end.tokens_out,
                    "predicted_ms": end.decode_ms,
                },
            }
        )


def llamacpp_routes(engine: MockEngine) -> list[Route]:
    """Every route of the llama-server emulation."""
    config = engine.config

    def loading_or_dead() -> Response | None:
        if engine.faults.dead:
            return llama_error(500, "engine is dead")
        if engine.loading:
            return llama_error(503, "Loading model")
        return None

    async def health(request: Request) -> Response:
        return loading_or_dead() or json_response({"status": "ok"})

    async def props(request: Request) -> Response:
        return loading_or_dead() or json_response(
            {
                "default_generation_settings": {"n_ctx": config.ctx_max, "params": {"seed": 4294967295}},
                "total_slots": config.slots,
                "model_alias": config.model_id,
                "model_path": f"/models/{config.model_id}.gguf",
                "build_info": BUILD_INFO,
                "endpoint_slots": True,
                "endpoint_metrics": True,
            }
        )

    async def slots(request: Request) -> Response:
        busy = engine.stats.running
        listing = [
            {"id": i, "n_ctx": config.ctx_max, "speculative": False, "is_processing": i < busy}
            for i in range(config.slots)
        ]
        return loading_or_dead() or json_response(listing)

    async def metrics(request: Request) -> Response:
        refused = loading_or_dead()
        return refused or text_response(llamacpp_metrics(engine), 200, "text/plain; version=0.0.4")

    async def models(request: Request) -> Response:
        entry = {
            "id": config.model_id,
            "object": "model",
            "owned_by": "llamacpp",
            "meta": {"n_ctx": config.ctx_max},
        }
        return loading_or_dead() or json_response({"object": "list", "data": [entry]})

    async def completion(request: Request) -> Response:
        try:
            body = await read_object(request)
            engine.requests.append({"path": request.url.path, "body": body})
            job = parse_native(body, config.ctx_max)
        except BadBody as exc:
            return llama_error(400, str(exc))
        refused = refusal(engine, job, llama_error)
        return refused or ClosingStream(NativeStream(job, config.model_id).render(engine))

    return [
        Route("/health", health),
        Route("/v1/health", health),
        Route("/props", props),
        Route("/slots", slots),
        Route("/metrics", metrics),
        Route("/models", models),
        Route("/v1/models", models),
        Route("/completion", completion, methods=["POST"]),
        Route("/completions", completion, methods=["POST"]),
        *openai_routes(engine, "llamacpp", llama_error),
    ]
