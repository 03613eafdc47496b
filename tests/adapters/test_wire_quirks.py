"""Each wire quirk of the engine reference, replayed byte for byte by a scripted engine on a real socket
(ORCH-7010..7013)."""

from __future__ import annotations

import pytest

from orchestrator_core.errors import DecodeTimeout, Internal, InvalidParams, PoolUnavailable, WorkerReset
from tests.adapters.helpers import collect, fast_options, request
from tests.adapters.scripted_engine import Reply, ScriptedEngine
from worker_adapters.factory import create_adapter
from worker_adapters.protocol import EngineAdapter
from worker_adapters.retry import RetryPolicy
from worker_adapters.types import FinalEvent, TokenEvent

PATHS = {
    "llamacpp": "/completion",
    "vllm": "/v1/completions",
    "tgi": "/generate_stream",
    "triton": "/v2/models/ensemble/generate_stream",
}


def split(data: bytes, size: int) -> list[bytes]:
    """`data` cut every `size` bytes, so events and even UTF-8 sequences straddle chunks."""
    return [data[i : i + size] for i in range(0, len(data), size)]


# One canonical stream per wire: two tokens (" Pa", "ris é") then the engine's own end.
STREAMS: dict[str, bytes] = {
    "llamacpp": (
        b'data: {"index":0,"content":" Pa","tokens":[1],"stop":false}\n\n'
        b'data: {"index":0,"content":"ris \xc3\xa9","tokens":[2],"stop":false}\n\n'
        b'data: {"index":0,"content":"","tokens":[],"stop":true,"stop_type":"limit","tokens_predicted":2,'
        b'"tokens_evaluated":5,"timings":{"prompt_ms":1.5,"predicted_ms":3.0}}\n\n'
    ),
    "vllm": (
        b'data: {"id":"c","object":"text_completion","choices":[{"index":0,"text":" Pa",'
        b'"finish_reason":null}]}\n\n'
        b'data: {"id":"c","object":"text_completion","choices":[{"index":0,"text":"ris \xc3\xa9",'
        b'"finish_reason":null}]}\n\n'
        b'data: {"id":"c","choices":[{"index":0,"text":"","finish_reason":"length","stop_reason":null}]}\n\n'
        b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,'
        b'"total_tokens":7}}\n\n'
        b"data: [DONE]\n\n"
    ),
    "tgi": (
        b'data:{"index":1,"token":{"id":1,"text":" Pa","special":false},'
        b'"generated_text":null,"details":null}\n\n'
        b'data:{"index":2,"token":{"id":2,"text":"ris \xc3\xa9","special":false},'
        b'"generated_text":" Paris \xc3\xa9",'
        b'"details":{"finish_reason":"length","generated_tokens":2,"seed":7,"input_length":5}}\n\n'
    ),
    "triton": (
        b'data: {"model_name":"ensemble","model_version":"1","text_output":" Pa","num_input_tokens":5,'
        b'"num_output_tokens":1}\n\n'
        b'data: {"model_name":"ensemble","model_version":"1","text_output":"ris \xc3\xa9",'
        b'"num_input_tokens":5,'
        b'"num_output_tokens":2}\n\n'
    ),
}


def adapter_for(engine: str, server: ScriptedEngine, **options: object) -> EngineAdapter:
    return create_adapter(engine, server.base_url, fast_options(**options))


async def run(engine: str, reply: Reply, **options: object) -> tuple[list[TokenEvent], FinalEvent]:
    """Stream a fixed request through `engine`'s adapter against a scripted engine giving `reply`."""
    async with ScriptedEngine() as server:
        server.route("POST", PATHS[engine], reply)
        adapter = adapter_for(engine, server, **options)
        try:
            return await collect(adapter, request(max_tokens=2))
        finally:
            await adapter.aclose()


@pytest.mark.req("ORCH-7002", "ORCH-7015")
@pytest.mark.parametrize("engine", list(STREAMS))
@pytest.mark.parametrize("chunk_size", [1, 7, 10_000])
async def test_events_split_across_chunks_decode_identically(engine: str, chunk_size: int) -> None:
    tokens, final = await run(engine, Reply.sse(split(STREAMS[engine], chunk_size)))
    assert [t.text for t in tokens] == [" Pa", "ris é"]
    assert (final.tokens_in, final.tokens_out, final.stop_reason) == (5, 2, "limit")


@pytest.mark.req("ORCH-7002", "ORCH-7015")
@pytest.mark.parametrize("engine", list(STREAMS))
async def test_crlf_separators_and_keepalive_comments_are_ignored(engine: str) -> None:
    body = b": keep-alive\r\n\r\n" + STREAMS[engine].replace(b"\n\n", b"\r\n\r\n: ping - 2026-11-22\r\n\r\n")
    tokens, final = await run(engine, Reply.sse(split(body, 13)))
    assert [t.text for t in tokens] == [" Pa", "ris é"]
    assert final.tokens_out == 2


@pytest.mark.req("ORCH-7012", "ORCH-7015")
async def test_tgi_framing_without_space_and_special_eos_token() -> None:
    body = (
        b'data:{"index":1,"token":{"id":9,"text":" Hi","special":false},'
        b'"generated_text":null,"details":null}\n\n'
        b'data:{"index":2,"token":{"id":2,"text":"</s>","special":true},"generated_text":" Hi",'
        b'"details":{"finish_reason":"eos_token","generated_tokens":2,"seed":7,"input_length":3}}\n\n'
    )
    tokens, final = await run("tgi", Reply.sse([body]))
    assert [t.text for t in tokens] == [" Hi"]
    assert (final.stop_reason, final.tokens_in, final.tokens_out) == ("eos", 3, 2)


@pytest.mark.req("ORCH-7010")
async def test_llamacpp_final_chunk_with_empty_content_adds_no_token_and_carries_counts() -> None:
    body = (
        b'data: {"index":0,"content":" yes","tokens":[5],"stop":false}\n\n'
        b'data: {"index":0,"content":"","tokens":[],"stop":true,"stop_type":"word","stopping_word":"no",'
        b'"tokens_predicted":1,"tokens_evaluated":4,"timings":{"prompt_ms":2.0,"predicted_ms":7.5}}\n\n'
    )
    tokens, final = await run("llamacpp", Reply.sse([body]))
    assert [t.text for t in tokens] == [" yes"]
    assert (final.stop_reason, final.tokens_in, final.tokens_out) == ("stop", 4, 1)
    assert (final.timings.engine_prompt_ms, final.timings.engine_decode_ms) == (2.0, 7.5)


@pytest.mark.req("ORCH-7011")
@pytest.mark.parametrize(
    ("finish", "stop_reason", "expected"), [("stop", '"END"', "stop"), ("stop", "null", "eos")]
)
async def test_vllm_stop_reason_distinguishes_stop_string_from_eos(
    finish: str, stop_reason: str, expected: str
) -> None:
    body = (
        b'data: {"choices":[{"index":0,"text":" a","finish_reason":null}]}\n\n'
        + f'data: {{"choices":[{{"index":0,"text":"","finish_reason":"{finish}",'.encode()
        + f'"stop_reason":{stop_reason}}}]}}\n\n'.encode()
        + b"data: [DONE]\n\n"
    )
    _, final = await run("vllm", Reply.sse([body]))
    assert final.stop_reason == expected


async def _tokens_before_error(engine: str, body: bytes) -> tuple[list[TokenEvent], Exception]:
    seen: list[TokenEvent] = []
    async with ScriptedEngine() as server:
        server.route("POST", PATHS[engine], Reply.sse([body]))
        adapter = adapter_for(engine, server)
        try:
            async for event in adapter.stream(request()):
                assert isinstance(event, TokenEvent)
                seen.append(event)
        except Exception as exc:  # the typed error under test
            return seen, exc
        finally:
            await adapter.aclose()
    raise AssertionError("the stream ended without an error")


@pytest.mark.req("ORCH-7004", "ORCH-7011")
async def test_vllm_error_event_followed_by_done_raises_internal() -> None:
    body = (
        b'data: {"choices":[{"index":0,"text":" a","finish_reason":null}]}\n\n'
        b'data: {"error":{"message":"engine died","type":"InternalServerError","param":null,"code":500}}\n\n'
        b"data: [DONE]\n\n"
    )
    seen, error = await _tokens_before_error("vllm", body)
    assert [t.text for t in seen] == [" a"]
    assert isinstance(error, Internal) and "engine died" in str(error)


@pytest.mark.req("ORCH-7004", "ORCH-7013")
async def test_triton_error_inside_a_200_stream_raises_internal() -> None:
    body = (
        b'data: {"model_name":"ensemble","model_version":"1","text_output":" a"}\n\n'
        b'data: {"error":"in ensemble \'ensemble\', Executor failed"}\n\n'
    )
    seen, error = await _tokens_before_error("triton", body)
    assert [t.text for t in seen] == [" a"]
    assert isinstance(error, Internal) and "Executor failed" in str(error)


@pytest.mark.req("ORCH-7004", "ORCH-7012")
async def test_tgi_validation_error_event_raises_invalid_params() -> None:
    _, error = await _tokens_before_error(
        "tgi", b'data:{"error":"Input validation error","error_type":"validation"}\n\n'
    )
    assert isinstance(error, InvalidParams)


@pytest.mark.req("ORCH-7004", "ORCH-7017")
@pytest.mark.parametrize("engine", list(PATHS))
async def test_plain_text_500_raises_internal_with_the_text(engine: str) -> None:
    with pytest.raises(Internal, match="std::runtime_error"):
        await run(
            engine, Reply.plain(500, b"terminate called after throwing an instance of 'std::runtime_error'")
        )


@pytest.mark.req("ORCH-7004", "ORCH-7017")
@pytest.mark.parametrize(
    ("engine", "status", "body"),
    [
        ("llamacpp", 400, b'{"error":{"code":400,"message":"bad n_predict","type":"invalid_request_error"}}'),
        ("vllm", 400, b'{"object":"error","message":"bad n_predict","type":"BadRequestError","code":400}'),
        ("tgi", 422, b'{"error":"bad n_predict","error_type":"validation"}'),
        ("triton", 400, b'{"error":"bad n_predict"}'),
    ],
)
async def test_engine_validation_errors_raise_invalid_params_with_the_message(
    engine: str, status: int, body: bytes
) -> None:
    with pytest.raises(InvalidParams, match="bad n_predict"):
        await run(engine, Reply.plain(status, body))


@pytest.mark.req("ORCH-7004", "ORCH-7010", "ORCH-7018")
async def test_llamacpp_loading_503_is_pool_unavailable_and_probes_as_starting() -> None:
    loading = b'{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}'
    async with ScriptedEngine() as server:
        route = server.route("POST", "/completion", Reply.plain(503, loading))
        server.route("GET", "/health", Reply.plain(503, loading))
        adapter = adapter_for("llamacpp", server, retry=RetryPolicy(attempts=2, base_s=0.0, cap_s=0.0))
        try:
            with pytest.raises(PoolUnavailable, match="Loading model"):
                await collect(adapter, request())
            streamed_on = server.connections
            health = await adapter.health()
        finally:
            await adapter.aclose()
    assert route.call_count == 2
    assert streamed_on == 1, "an error answer read to its end leaves its connection for the retry"
    assert (health.state, health.live, health.reason) == ("starting", True, "Loading model")


@pytest.mark.req("ORCH-7004")
@pytest.mark.parametrize("engine", list(STREAMS))
async def test_read_error_after_a_token_raises_worker_reset(engine: str) -> None:
    first_event = STREAMS[engine].split(b"\n\n")[0] + b"\n\n"
    with pytest.raises(WorkerReset):
        await run(engine, Reply.sse([first_event], end="reset"))


@pytest.mark.req("ORCH-7004")
@pytest.mark.parametrize("engine", ["llamacpp", "vllm", "tgi"])
async def test_body_ending_before_the_final_event_raises_worker_reset(engine: str) -> None:
    first_event = STREAMS[engine].split(b"\n\n")[0] + b"\n\n"
    with pytest.raises(WorkerReset, match="before its final event"):
        await run(engine, Reply.sse([first_event]))


@pytest.mark.req("ORCH-7004")
async def test_an_engine_silent_before_the_first_token_raises_decode_timeout() -> None:
    with pytest.raises(DecodeTimeout):
        await run("llamacpp", Reply.sse([], end="hang"), first_token_timeout_s=0.1)


@pytest.mark.req("ORCH-7004")
async def test_non_event_stream_200_raises_internal() -> None:
    with pytest.raises(Internal, match="event stream"):
        await run("vllm", Reply.plain(200, b'{"choices":[]}'))


@pytest.mark.req("ORCH-7003")
@pytest.mark.parametrize("engine", list(STREAMS))
async def test_leaving_the_stream_early_closes_the_upstream_body(engine: str) -> None:
    async with ScriptedEngine() as server:
        # The body never ends by itself, so only the client can close it.
        route = server.route("POST", PATHS[engine], Reply.sse(split(STREAMS[engine], 20), end="hang"))
        adapter = adapter_for(engine, server)
        try:
            stream = adapter.stream(request())
            first = await anext(stream)
            assert not route.last.client_closed.is_set()
            await stream.aclose()
            # Closing the stream closes the connection at once, before the adapter itself is closed.
            closed_early = await route.last.closed_before_end(timeout_s=1.0)
        finally:
            await adapter.aclose()
    assert isinstance(first, TokenEvent)
    assert closed_early


@pytest.mark.req("ORCH-7015")
@pytest.mark.parametrize("engine", list(STREAMS))
async def test_an_event_whose_data_spans_several_lines_is_joined(engine: str) -> None:
    # SSE joins multi-line data with newlines; the engines' JSON stays valid with a newline after a comma.
    body = STREAMS[engine].replace(b'","', b'",\ndata: "').replace(b'":{"', b'":\ndata:{"')
    assert body.count(b"\ndata:") > STREAMS[engine].count(b"\ndata:")
    tokens, final = await run(engine, Reply.sse(split(body, 11)))
    assert [t.text for t in tokens] == [" Pa", "ris \u00e9"]
    assert final.tokens_out == 2
