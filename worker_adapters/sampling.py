"""Request bodies with every sampling field explicit (ORCH-7006), shared by the wire formats.

Sampler profile v1 is temperature, top_p and top_k only; the other samplers an engine enables by
default (llama.cpp's min_p 0.05, repeat penalty) are switched off explicitly so a default change in
the engine cannot change the stream.
"""

from __future__ import annotations

from typing import Any

import orjson

from worker_adapters.tool_calls import forced_call, forced_tool, message_body
from worker_adapters.types import GenerateRequest


def penalties(request: GenerateRequest) -> dict[str, float]:
    """The penalties a request asks for (ORCH-1092); none when both are 0."""
    asked = {"presence_penalty": request.presence_penalty, "frequency_penalty": request.frequency_penalty}
    return {name: value for name, value in asked.items() if value}


def openai_body(request: GenerateRequest, model: str | None, *, force_calls: bool = False) -> dict[str, Any]:
    """The body of an OpenAI-compatible streaming completion or chat request; with `force_calls`, a
    required tool call is asked for as grammar-constrained JSON (see `tool_calls`)."""
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
    body.update(penalties(request))
    if request.logit_bias is not None:
        body["logit_bias"] = orjson.Fragment(request.logit_bias)
    if request.workload != "chat":
        body["prompt"] = request.prompt
        return body
    if force_calls and forced_tool(request):
        return body | forced_call(request)
    body["messages"] = [message_body(m) for m in request.messages or ()]
    if request.tools is not None:
        body["tools"] = orjson.Fragment(request.tools)
    if request.tool_choice is not None:
        body["tool_choice"] = orjson.Fragment(request.tool_choice)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not None:
        body["response_format"] = orjson.Fragment(request.response_format)
    return body
