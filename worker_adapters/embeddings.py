"""Embeddings on OpenAI-compatible engine wires (llama.cpp with `--embeddings`, vLLM): one POST of every
input to `/v1/embeddings`, handed on as the one FinalEvent of a stream, so an `embedding` task runs through
the same runner, lifecycle and transcript as any other (ORCH-1094)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

from orchestrator_core.errors import Internal, InvalidParams
from worker_adapters.http_base import HttpEngine
from worker_adapters.types import FinalEvent, GenerateRequest, StreamEvent, Timings
from worker_adapters.wire import as_dict, optional_int


def _vectors(payload: Any, count: int, engine: str) -> tuple[tuple[float, ...], ...]:
    """The vectors of an answer in input order; anything else is the engine's fault."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != count:
        raise Internal(f"{engine} answered {count} inputs with no matching list of embeddings", engine=engine)
    ordered = sorted(data, key=lambda item: item.get("index", 0) if isinstance(item, dict) else 0)
    vectors: list[tuple[float, ...]] = []
    for item in ordered:
        vector = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(vector, list) or not all(isinstance(x, int | float) for x in vector):
            raise Internal(f"{engine} sent an embedding that is not a list of numbers", engine=engine)
        vectors.append(tuple(float(x) for x in vector))
    return tuple(vectors)


async def embeddings_stream(
    http: HttpEngine, request: GenerateRequest, model: str | None
) -> AsyncGenerator[StreamEvent, None]:
    """The embeddings of `request.inputs` as one FinalEvent (no tokens)."""
    body: dict[str, Any] = {"input": list(request.inputs), "encoding_format": "float"}
    if model is not None:
        body["model"] = model
    started = time.monotonic()
    payload = await http.post_json("/v1/embeddings", body)
    vectors = _vectors(payload, len(request.inputs), http.engine)
    elapsed_ms = (time.monotonic() - started) * 1000
    yield FinalEvent(
        tokens_in=optional_int(as_dict(as_dict(payload).get("usage")).get("prompt_tokens")) or 0,
        tokens_out=0,
        stop_reason="eos",
        timings=Timings(first_token_ms=None, decode_ms=0.0, total_ms=elapsed_ms, engine_prompt_ms=elapsed_ms),
        embeddings=vectors,
    )


def not_served(engine: str) -> InvalidParams:
    """The refusal of an embedding task by an adapter whose wire has no embeddings."""
    return InvalidParams(f"input: the {engine} adapter serves no embeddings")
