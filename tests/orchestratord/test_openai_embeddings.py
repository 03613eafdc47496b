"""The unmodified `openai` package's embeddings against a live orchestratord with an embedding pool and a
chat pool on mock engine servers (llama.cpp and vLLM wires): vectors in input order in both encodings,
the task behind them, and the requests placement cannot serve (ORCH-1094)."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import openai
import pytest
from starlette.types import ASGIApp

from mock_engine.faults import MockConfig
from mock_engine.openai_wire import mock_vector
from mock_engine.server import serve_mock
from orchestratord.app import create_app
from tests.live_daemon import LiveDaemon
from tests.orchestratord.orchd_harness import MODEL, engine_bodies, make_config

EMBED = "pkg:embed-model"
TEXTS = ["fair queues", "deficit round robin", "fair queues"]


@asynccontextmanager
async def _pools() -> AsyncIterator[tuple[ASGIApp, str]]:
    """pool-e serves embeddings (a llama.cpp and a vLLM server), pool-a chat and completions."""
    async with AsyncExitStack() as stack:
        llama = await stack.enter_async_context(serve_mock("llamacpp", MockConfig(slots=1)))
        vllm = await stack.enter_async_context(serve_mock("vllm", MockConfig(slots=1)))
        chat = await stack.enter_async_context(serve_mock("llamacpp", MockConfig(slots=1)))
        embedding = {"pool_id": "pool-e", "model_ref": EMBED, "workloads": ["embedding"]}
        replicas = [
            {"id": "e0", "engine": "llamacpp", "base_url": llama.base_url, **embedding},
            {"id": "e1", "engine": "vllm", "base_url": vllm.base_url, **embedding},
            {
                "id": "r0",
                "pool_id": "pool-a",
                "engine": "llamacpp",
                "model_ref": MODEL,
                "base_url": chat.base_url,
            },
        ]
        yield create_app(make_config(replicas=replicas)), llama.base_url


BUILD = _pools


def vector(embedding: object) -> list[float]:
    """An embedding as numbers: base64 (little-endian float32) is decoded."""
    if isinstance(embedding, str):
        packed = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(packed) // 4}f", packed))
    assert isinstance(embedding, list)
    return embedding


@pytest.mark.req("ORCH-1094")
@pytest.mark.parametrize("encoding", [None, "base64", "float"], ids=["sdk-default", "base64", "float"])
def test_embeddings_come_back_in_input_order(sdk: openai.OpenAI, encoding: str | None) -> None:
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    extra = {} if encoding is None else {"encoding_format": encoding}
    answer = sdk.embeddings.create(model=EMBED, input=TEXTS, **extra)  # type: ignore[arg-type]
    assert [d.index for d in answer.data] == [0, 1, 2]
    for datum, text in zip(answer.data, TEXTS, strict=True):
        assert vector(datum.embedding) == pytest.approx(mock_vector(text), abs=1e-6)
    assert answer.usage.prompt_tokens == sum(len(t.split()) for t in TEXTS)
    assert answer.model == EMBED


@pytest.mark.req("ORCH-1094")
def test_an_embedding_is_a_task_of_the_pool(sdk: openai.OpenAI, stack: LiveDaemon[str]) -> None:
    raw = sdk.embeddings.with_raw_response.create(model=EMBED, input="one text", encoding_format="float")
    assert len(raw.parse().data) == 1
    status = httpx.get(f"{stack.url}/v1/tasks/{raw.headers['x-orch-task-id']}", timeout=5).json()
    assert (status["state"], status["replay"]["pool_id"]) == ("succeeded", "pool-e")
    assert status["tokens_in"] == 2
    for _ in range(4):  # both embedding replicas serve, whichever is free
        sdk.embeddings.create(model=EMBED, input="x", encoding_format="float")
    assert engine_bodies(stack.state, "/v1/embeddings")[-1]["input"] in (["x"], ["one text"])


@pytest.mark.req("ORCH-1094", "ORCH-1091")
def test_what_the_pools_cannot_serve_is_400_naming_it(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as chat_on_embedder:
        sdk.chat.completions.create(model=EMBED, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    assert chat_on_embedder.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as embed_on_chat:
        sdk.embeddings.create(model=MODEL, input="hi")
    assert embed_on_chat.value.param == "input"
    with pytest.raises(openai.BadRequestError) as shortened:
        sdk.embeddings.create(model=EMBED, input="hi", dimensions=4)
    assert shortened.value.param == "dimensions"
    with pytest.raises(openai.BadRequestError) as tokens:
        sdk.embeddings.create(model=EMBED, input=[[1, 2, 3]])
    assert tokens.value.code == "invalid_params"
