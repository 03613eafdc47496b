"""Triton + TensorRT-LLM ensemble emulation: KServe v2 probes, model metadata/config, generate_stream.

Readiness answers 200 or 400 (never 503); the stream is `data: ` events with a `text_output` delta and
ends at EOF with no marker; a failure after the first response is `data: {"error": ...}` in the 200
stream. A matched stop word stays in the output, as TensorRT-LLM does.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_engine.engine import InjectedError, MockEnd, MockEngine, MockToken
from mock_engine.http_common import (
    BadBody,
    ClosingStream,
    empty_response,
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
from mock_engine.metrics_text import triton_metrics

TRITON_VERSION = "2.73.0"
Handler = Callable[[Request], Awaitable[Response]]
EXTENSIONS = [
    "classification",
    "sequence",
    "model_repository",
    "model_configuration",
    "statistics",
    "generate",
]


def triton_error(status: int, message: str) -> Response:
    """Triton's error body."""
    return json_response({"error": message}, status)


def parse_generate(body: dict[str, Any]) -> MockJob:
    """The job of an ensemble generate body (text_input and max_tokens are required inputs)."""
    text = field_str(body, "text_input")
    max_tokens = field_int(body, "max_tokens")
    if max_tokens is None or max_tokens < 1:
        raise BadBody("input 'max_tokens' is required and must be positive")
    seed = field_int(body, "seed", 0) or field_int(body, "random_seed", 0) or 0
    return MockJob(text, max_tokens, seed, field_stop(body, "stop_words"))


class TritonStream:
    """Renders one job as generate_stream responses."""

    def __init__(self, job: MockJob, model: str) -> None:
        self._job = job
        self._model = model
        self._out = 0

    def _response(self, token: MockToken) -> bytes:
        self._out += 1
        payload = {
            "model_name": self._model,
            "model_version": "1",
            "text_output": token.text,
            "num_input_tokens": self._job.prompt_tokens,
            "num_output_tokens": self._out,
        }
        return sse(payload)

    async def render(self, engine: MockEngine) -> AsyncGenerator[bytes, None]:
        """One response per token; the stop word is kept; EOF ends the stream."""
        try:
            async for step in self._job.run(engine):
                if isinstance(step, MockEnd):
                    if step.stop_token is not None:
                        yield self._response(step.stop_token)
                    return
                yield b"".join(self._response(token) for token in step)
        except InjectedError as exc:
            yield sse({"error": f"in ensemble '{self._model}', {exc}"})


def _probe_routes(engine: MockEngine) -> list[Route]:
    """Liveness, readiness, server metadata and metrics."""

    async def live(request: Request) -> Response:
        return empty_response(400 if engine.faults.dead else 200)

    async def ready(request: Request) -> Response:
        return empty_response(400 if engine.faults.dead or engine.loading else 200)

    async def server_metadata(request: Request) -> Response:
        return json_response({"name": "triton", "version": TRITON_VERSION, "extensions": EXTENSIONS})

    return [
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2", server_metadata),
    ]


def _model_routes(engine: MockEngine, model: str) -> list[Route]:
    """Metadata, config and readiness of the one served model."""
    config = engine.config

    async def model_metadata(request: Request) -> Response:
        tensors = [{"name": "text_input", "datatype": "BYTES", "shape": [-1]}]
        outputs = [{"name": "text_output", "datatype": "BYTES", "shape": [-1]}]
        return json_response(
            {"name": model, "versions": ["1"], "platform": "ensemble", "inputs": tensors, "outputs": outputs}
        )

    async def model_config(request: Request) -> Response:
        return json_response(
            {
                "name": model,
                "platform": "ensemble",
                "max_batch_size": config.slots,
                "model_transaction_policy": {"decoupled": True},
                "parameters": {"max_seq_len": {"string_value": str(config.ctx_max)}},
            }
        )

    async def model_ready(request: Request) -> Response:
        if engine.loading:
            return triton_error(400, "Model version not ready")
        return empty_response(200)

    return [
        Route("/v2/models/{model}", _only(model, model_metadata)),
        Route("/v2/models/{model}/config", _only(model, model_config)),
        Route("/v2/models/{model}/ready", _only(model, model_ready)),
    ]


def _only(model: str, handler: Handler) -> Handler:
    """Answer 400 "unknown model" for any model name but the served one."""

    async def guarded(request: Request) -> Response:
        name = str(request.path_params["model"])
        if name != model:
            return triton_error(400, f"Request for unknown model: '{name}' is not found")
        return await handler(request)

    return guarded


def triton_routes(engine: MockEngine, model: str) -> list[Route]:
    """Every route of the Triton emulation serving one ensemble `model`."""

    async def metrics(request: Request) -> Response:
        return text_response(triton_metrics(engine, model), 200)

    async def generate_stream(request: Request) -> Response:
        try:
            job = parse_generate(await read_object(request))
        except BadBody as exc:
            return triton_error(400, str(exc))
        refused = refusal(engine, job, triton_error)
        stream = TritonStream(job, model).render(engine)
        return refused or ClosingStream(stream, "text/event-stream; charset=utf-8")

    return [
        *_probe_routes(engine),
        *_model_routes(engine, model),
        Route("/v2/models/{model}/generate_stream", _only(model, generate_stream), methods=["POST"]),
        Route("/metrics", metrics),
    ]
