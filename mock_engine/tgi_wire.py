"""TGI router emulation: /generate_stream framed `data:` without a space, /info, /health, /metrics.

One event per token; the last event is the final token (the EOS token, marked special, for an
end of sequence; the stop-sequence token itself for a stop) carrying `generated_text` and `details`.
Validation failures are 422 `{"error", "error_type": "validation"}` as in TGI.
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
from mock_engine.metrics_text import tgi_metrics
from mock_engine.openai_wire import openai_routes

TGI_VERSION = "3.3.7"
EOS = MockToken("</s>", 2)
_FINISH = {"eos": "eos_token", "limit": "length", "stop": "stop_sequence", "cancel": "length"}
_ERROR_TYPES = {422: "validation", 429: "overloaded", 424: "generation", 503: "unhealthy"}


def tgi_error(status: int, message: str) -> Response:
    """TGI's flat error body."""
    return json_response({"error": message, "error_type": _ERROR_TYPES.get(status, "generation")}, status)


def parse_generate(body: dict[str, Any]) -> MockJob:
    """The job of a /generate_stream body, validated as TGI does."""
    inputs = field_str(body, "inputs")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadBody("`parameters` must be an object")
    temperature = parameters.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and temperature > 0):
        raise BadBody("`temperature` must be strictly positive")
    top_p = parameters.get("top_p")
    if top_p is not None and not (isinstance(top_p, int | float) and 0 < top_p < 1):
        raise BadBody("`top_p` must be > 0.0 and < 1.0")
    top_k = field_int(parameters, "top_k")
    if top_k is not None and top_k <= 0:
        raise BadBody("`top_k` must be strictly positive")
    max_new = field_int(parameters, "max_new_tokens", 100) or 0
    if max_new <= 0:
        raise BadBody("`max_new_tokens` must be strictly positive")
    return MockJob(inputs, max_new, field_int(parameters, "seed", 0) or 0, field_stop(parameters, "stop"))


class GenerateStream:
    """Renders one job as TGI's /generate_stream.

    The token that reaches the length limit is held back until the end so it can carry the details;
    every other token is sent as soon as the engine produces it.
    """

    def __init__(self, job: MockJob, limit: int) -> None:
        self._job = job
        self._limit = limit
        self._index = 0
        self._text: list[str] = []
        self._held: MockToken | None = None

    async def render(self, engine: MockEngine) -> AsyncGenerator[bytes, None]:
        """Token events, the final token event, or an error event."""
        try:
            async for step in self._job.run(engine):
                yield self._final(step) if isinstance(step, MockEnd) else self._tokens(step)
        except InjectedError as exc:
            yield sse({"error": str(exc), "error_type": "generation"}, space=False)

    def _event(self, token: MockToken, last: dict[str, Any] | None = None) -> bytes:
        self._index += 1
        special = token is EOS
        if not special:
            self._text.append(token.text)
        payload = {
            "index": self._index,
            "token": {"id": token.token_id, "text": token.text, "logprob": -0.1, "special": special},
            "generated_text": "".join(self._text) if last else None,
            "details": last,
        }
        return sse(payload, space=False)

    def _tokens(self, tokens: list[MockToken]) -> bytes:
        if self._index + len(tokens) >= self._limit:
            tokens, self._held = tokens[:-1], tokens[-1]
        return b"".join(self._event(token) for token in tokens)

    def _final(self, end: MockEnd) -> bytes:
        last = end.stop_token if end.stop_reason == "stop" else EOS if end.stop_reason == "eos" else None
        out = b""
        if last is None:
            last, self._held = self._held or EOS, None
        elif self._held is not None:
            out = self._event(self._held)
        generated = end.tokens_out + (0 if end.stop_reason == "limit" else 1)
        details = {
            "finish_reason": _FINISH[end.stop_reason],
            "generated_tokens": generated,
            "seed": self._job.seed,
            "input_length": end.tokens_in,
        }
        return out + self._event(last, details)


def tgi_routes(engine: MockEngine) -> list[Route]:
    """Every route of the TGI emulation."""
    config = engine.config

    async def health(request: Request) -> Response:
        if engine.faults.dead or engine.loading:
            return tgi_error(503, "unhealthy") if engine.faults.dead else empty_response(503)
        return empty_response(200)

    async def info(request: Request) -> Response:
        return json_response(
            {
                "model_id": config.model_id,
                "model_sha": None,
                "model_pipeline_tag": "text-generation",
                "max_concurrent_requests": config.slots,
                "max_best_of": 2,
                "max_stop_sequences": 4,
                "max_input_tokens": config.ctx_max - 1,
                "max_total_tokens": config.ctx_max,
                "validation_workers": 2,
                "max_client_batch_size": 4,
                "router": "text-generation-router",
                "version": TGI_VERSION,
                "sha": None,
                "docker_label": None,
            }
        )

    async def metrics(request: Request) -> Response:
        return text_response(tgi_metrics(engine), 200)

    async def generate_stream(request: Request) -> Response:
        try:
            job = parse_generate(await read_object(request))
        except BadBody as exc:
            return tgi_error(422, str(exc))
        refused = refusal(engine, job, tgi_error, invalid_status=422)
        limit = min(job.max_tokens, engine.faults.eos_at or job.max_tokens)
        return refused or ClosingStream(GenerateStream(job, limit).render(engine))

    return [
        Route("/health", health),
        Route("/ping", health),
        Route("/info", info),
        Route("/metrics", metrics),
        Route("/generate_stream", generate_stream, methods=["POST"]),
        *openai_routes(engine, "tgi", tgi_error),
    ]
