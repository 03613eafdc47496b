"""What each engine wire can do besides plain generation, as the adapters implement it (ORCH-1091).

Placement sends a task that asks for a feature only to a replica whose engine has it, and a request for a
feature that no replica serving the model has is refused naming the feature.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

Feature: TypeAlias = Literal["tools", "response_format", "penalties", "logit_bias"]

ENGINE_FEATURES: Final[dict[str, frozenset[Feature]]] = {
    # llama-server with --jinja: tools through its chat template (required calls forced as JSON here),
    # response_format through its JSON-schema grammar.
    "llamacpp": frozenset({"tools", "response_format", "penalties", "logit_bias"}),
    # vLLM's OpenAI server takes both fields as OpenAI defines them (guided decoding).
    "vllm": frozenset({"tools", "response_format", "penalties", "logit_bias"}),
    # TGI's messages route takes OpenAI's tools; its response_format is a different object.
    "tgi": frozenset({"tools"}),
    # Triton's generate endpoint has neither.
    "triton": frozenset(),
    "mock": frozenset(),
}


def engine_features(engine: str) -> frozenset[Feature]:
    return ENGINE_FEATURES.get(engine, frozenset())
