"""vLLM OpenAI-server emulation: /health (503 only when the engine died), /version, /v1/models, /metrics.

Real vLLM refuses connections while loading; the server module emulates that by binding late. A
loading state set at run time answers 503, the closest an already-listening server can do.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_engine.engine import MockEngine
from mock_engine.http_common import empty_response, json_response, text_response
from mock_engine.metrics_text import vllm_metrics
from mock_engine.openai_wire import openai_routes

VLLM_VERSION = "0.33.0"
_TYPES = {
    400: "BadRequestError",
    404: "NotFoundError",
    422: "UnprocessableEntityError",
    503: "ServiceUnavailableError",
}


def vllm_error(status: int, message: str) -> Response:
    """vLLM's error body."""
    kind = _TYPES.get(status, "InternalServerError")
    return json_response({"error": {"message": message, "type": kind, "param": None, "code": status}}, status)


def vllm_routes(engine: MockEngine) -> list[Route]:
    """Every route of the vLLM emulation."""
    config = engine.config

    async def health(request: Request) -> Response:
        return empty_response(503 if engine.faults.dead or engine.loading else 200)

    async def version(request: Request) -> Response:
        return json_response({"version": VLLM_VERSION})

    async def models(request: Request) -> Response:
        entry = {
            "id": config.model_id,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "vllm",
            "root": config.model_id,
            "parent": None,
            "max_model_len": config.ctx_max,
            "permission": [],
        }
        return json_response({"object": "list", "data": [entry]})

    async def metrics(request: Request) -> Response:
        return text_response(vllm_metrics(engine), 200, "text/plain; version=0.0.4; charset=utf-8")

    return [
        Route("/health", health),
        Route("/ping", health),
        Route("/version", version),
        Route("/v1/models", models),
        Route("/metrics", metrics),
        *openai_routes(engine, "vllm", vllm_error),
    ]
