"""The OpenAI facade reads its body itself (`declared_body`) yet answers every body exactly as FastAPI did
when the body was a declared parameter: the same acceptance, and the same refusals word for word."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.responses import JSONResponse

from contracts.api_types.data import ChatCompletionRequest, CompletionRequest
from http_edge.errors import install_error_handlers
from orchestratord.http.json_body import declared_body

GOOD = b'{"model": "m", "prompt": "p", "max_tokens": 2}'
JSON = "application/json"
EDGE_CASES: list[tuple[bytes, str | None]] = [
    (GOOD, JSON),
    (GOOD, None),
    (GOOD, ""),
    (GOOD, "text/plain"),
    (GOOD, "application/x-www-form-urlencoded"),
    (GOOD, "application/json; charset=utf-8"),
    (GOOD, "Application/JSON"),
    (GOOD, "application/merge-patch+json"),
    (GOOD, "application/json, text/plain"),
    (b"", JSON),
    (b"", "text/plain"),
    (b"{", JSON),
    (b"{", None),
    (b"[1, 2]", JSON),
    (b"null", JSON),
    (b'"x"', JSON),
    (b"\xef\xbb\xbf" + GOOD, JSON),
    (b"  " + GOOD + b"\n", JSON),
    (b'{"model": "\xff\xfe", "prompt": "x"}', JSON),
    (b'{"model": "\\ud800", "prompt": "x"}', JSON),
    (b'{"model": NaN, "prompt": "x"}', JSON),
    (b'{"model": "m", "prompt": "p", "max_tokens": 1e400}', JSON),
    (b'{"model": "m", "prompt": "p", "stream": true, "stream": "no"}', JSON),
    (b'{"model": "m", "prompt": "p", "stop": ["a", 1], "seed": -1, "n": 2, "tools": []}', JSON),
    (b'{"model": "m", "messages": [{"role": "tool", "content": 1}], "temperature": 1}', JSON),
    (b"[" * 5000 + b"]" * 5000, JSON),
]


def dumped(body: BaseModel) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"))


# Route 0 takes a completion, route 1 a chat completion: `/declared/i` as FastAPI's body parameter, `/read/i`
# through `declared_body`.
async def declared_0(body: CompletionRequest) -> JSONResponse:
    return dumped(body)


async def declared_1(body: ChatCompletionRequest) -> JSONResponse:
    return dumped(body)


async def read_0(request: Request) -> JSONResponse:
    return dumped(await declared_body(request, CompletionRequest))


async def read_1(request: Request) -> JSONResponse:
    return dumped(await declared_body(request, ChatCompletionRequest))


def served() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_api_route("/declared/0", declared_0, methods=["POST"])
    app.add_api_route("/declared/1", declared_1, methods=["POST"])
    app.add_api_route("/read/0", read_0, methods=["POST"])
    app.add_api_route("/read/1", read_1, methods=["POST"])
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = served()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def both_answers(client: httpx.AsyncClient, index: int, raw: bytes, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    answers = []
    for route in ("declared", "read"):
        response = await client.post(f"/{route}/{index}", content=raw, headers=headers)
        body = response.json()
        body.pop("correlation_id", None) if isinstance(body, dict) else None
        answers.append((response.status_code, body))
    assert answers[0] == answers[1], (raw[:80], content_type)


@pytest.mark.req("ORCH-1060", "ORCH-1081", "ORCH-1201")
@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize(("raw", "content_type"), EDGE_CASES)
async def test_edge_case_bodies_get_fastapis_answer(
    client: httpx.AsyncClient, index: int, raw: bytes, content_type: str | None
) -> None:
    await both_answers(client, index, raw, content_type)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = """model prompt messages max_tokens max_completion_tokens temperature top_p top_k n stream
stream_options stop seed user logprobs""".split()
fields = st.sampled_from(FIELDS)


@pytest.mark.req("ORCH-1060", "ORCH-1081")
async def test_arbitrary_json_bodies_get_fastapis_answer(client: httpx.AsyncClient) -> None:
    samples: list[bytes] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(fields, json_values, max_size=6))
    def bodies(body: dict[str, object]) -> None:
        samples.append(json.dumps(body).encode())

    bodies()
    assert samples
    for index, raw in enumerate(samples):
        await both_answers(client, index % 2, raw, JSON)
