"""Request bodies with every sampling field explicit (ORCH-7006), shared by the wire formats.

Sampler profile v1 is temperature, top_p and top_k only; the other samplers an engine enables by
default (llama.cpp's min_p 0.05, repeat penalty) are switched off explicitly so a default change in
the engine cannot change the stream.
"""

from __future__ import annotations

from typing import Any

from worker_adapters.types import GenerateRequest


def openai_body(request: GenerateRequest, model: str | None) -> dict[str, Any]:
    """The body of an OpenAI-compatible streaming completion or chat request."""
    body: dict[str, Any] = {
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k,
        "stop": list(request.stop),
    }
    if model is not None:
        body["model"] = model
    if request.workload == "chat":
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages or ()]
    else:
        body["prompt"] = request.prompt
    return body
