"""One behaviour suite for every adapter: the four HTTP adapters against the mock's wire emulation,
and the in-process MockAdapter. Each test runs once per adapter (fixture `target_name`)."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from mock_engine import Faults, MockConfig
from orchestrator_core.errors import DecodeTimeout, Internal, InvalidParams, PoolUnavailable, WorkerReset
from tests.adapters.helpers import PROMPT, TargetFactory, collect, expected_words, fast_options, request
from worker_adapters.retry import RetryPolicy
from worker_adapters.types import TokenEvent

pytestmark = pytest.mark.req("ORCH-7001", "ORCH-9016")


@pytest.mark.req("ORCH-7002", "ORCH-7014")
async def test_tokens_arrive_in_order_with_gapless_indices_then_one_final(make_target: TargetFactory) -> None:
    async with make_target() as target:
        tokens, final = await collect(target.adapter, request(max_tokens=12))
    assert [t.index for t in tokens] == list(range(12))
    assert [t.text for t in tokens] == expected_words(PROMPT, 7, 12)
    assert final.tokens_out == 12
    assert final.tokens_in == len(PROMPT.split())
    assert final.stop_reason == "limit"
    assert final.timings.total_ms >= final.timings.decode_ms >= 0
    assert final.timings.first_token_ms is not None


@pytest.mark.req("ORCH-7014", "ORCH-3501")
async def test_same_request_gives_the_same_stream_and_another_seed_another(
    make_target: TargetFactory,
) -> None:
    async with make_target() as target:
        first, _ = await collect(target.adapter, request(max_tokens=20, seed=1))
        again, _ = await collect(target.adapter, request(max_tokens=20, seed=1))
        other, _ = await collect(target.adapter, request(max_tokens=20, seed=2))
    assert [t.text for t in first] == [t.text for t in again]
    assert [t.text for t in first] != [t.text for t in other]


@pytest.mark.req("ORCH-7002")
async def test_end_of_sequence_is_reported_as_eos(make_target: TargetFactory) -> None:
    async with make_target(faults=Faults(eos_at=5)) as target:
        tokens, final = await collect(target.adapter, request(max_tokens=50))
        extra = 1 if target.traits.eos_counted_as_token else 0
    assert final.stop_reason == "eos"
    assert len(tokens) == 5
    assert final.tokens_out == 5 + extra


@pytest.mark.req("ORCH-7002")
async def test_stop_sequence_is_reported_as_stop(make_target: TargetFactory) -> None:
    words = expected_words(PROMPT, 7, 40)
    stop_word = words[3]
    cut = words.index(stop_word)
    async with make_target() as target:
        tokens, final = await collect(target.adapter, request(max_tokens=40, stop=(stop_word.strip(),)))
        keeps_stop = target.traits.stop_text_in_output
    assert final.stop_reason == "stop"
    assert [t.text for t in tokens] == words[: cut + 1] if keeps_stop else words[:cut]


@pytest.mark.req("ORCH-7002")
async def test_chat_workload_streams_tokens_and_usage(make_target: TargetFactory, target_name: str) -> None:
    from worker_adapters.types import ChatMessage, GenerateRequest

    chat = GenerateRequest(
        workload="chat", messages=(ChatMessage("user", "hello there"),), max_tokens=6, seed=3
    )
    async with make_target() as target:
        if target_name == "triton":
            with pytest.raises(InvalidParams, match="workload"):
                await collect(target.adapter, chat)
            return
        tokens, final = await collect(target.adapter, chat)
    assert [t.index for t in tokens] == list(range(6))
    assert final.tokens_out == 6
    assert final.tokens_in > 0
    assert final.stop_reason == "limit"


@pytest.mark.req("ORCH-7003", "ORCH-1031")
async def test_closing_the_stream_ends_the_request_on_the_engine_within_1s(
    make_target: TargetFactory,
) -> None:
    async with make_target(faults=Faults(token_delay_ms=20)) as target:
        seen = []
        async with aclosing(target.adapter.stream(request(max_tokens=10_000))) as events:
            async for event in events:
                seen.append(event)
                if len(seen) == 3:
                    break
        assert [e.index for e in seen if isinstance(e, TokenEvent)] == [0, 1, 2]
        assert await target.engine.wait_idle(1.0)
        assert target.engine.stats.ended_early == 1
        assert target.engine.stats.finished == 0


@pytest.mark.req("ORCH-7003")
async def test_breaking_out_of_the_loop_ends_the_request_within_1s(make_target: TargetFactory) -> None:
    async with make_target(faults=Faults(token_delay_ms=20)) as target:
        async for event in target.adapter.stream(request(max_tokens=10_000)):
            if isinstance(event, TokenEvent) and event.index == 2:
                break
        # No aclose: the dropped generator is finalized by the event loop, which closes the upstream.
        assert await target.engine.wait_idle(1.0)
        assert target.engine.stats.ended_early == 1


@pytest.mark.req("ORCH-7003")
async def test_cancelling_the_consuming_task_ends_the_request_within_1s(make_target: TargetFactory) -> None:
    async with make_target(faults=Faults(token_delay_ms=20)) as target:
        got_token = asyncio.Event()

        async def consume() -> None:
            async for event in target.adapter.stream(request(max_tokens=10_000)):
                if isinstance(event, TokenEvent):
                    got_token.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_token.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await target.engine.wait_idle(1.0)
        assert target.engine.stats.ended_early == 1


@pytest.mark.req("ORCH-7004")
async def test_engine_loading_maps_to_pool_unavailable(make_target: TargetFactory) -> None:
    async with make_target(config=MockConfig(loading_s=30)) as target:
        with pytest.raises(PoolUnavailable):
            await collect(target.adapter, request())


@pytest.mark.req("ORCH-7004")
async def test_connection_dropped_mid_stream_maps_to_worker_reset(make_target: TargetFactory) -> None:
    async with make_target(faults=Faults(fail_at=3)) as target:
        seen: list[TokenEvent] = []
        with pytest.raises(WorkerReset):
            async for event in target.adapter.stream(request(max_tokens=20)):
                assert isinstance(event, TokenEvent)
                seen.append(event)
    assert [t.index for t in seen] == [0, 1, 2]


@pytest.mark.req("ORCH-7004")
@pytest.mark.parametrize("stall_at", [0, 2])
async def test_no_token_within_the_idle_timeout_maps_to_decode_timeout(
    make_target: TargetFactory, stall_at: int
) -> None:
    async with make_target(faults=Faults(stall_at=stall_at)) as target:
        seen = 0
        with pytest.raises(DecodeTimeout):
            async for _ in target.adapter.stream(request(max_tokens=20)):
                seen += 1
        assert seen == stall_at
        assert await target.engine.wait_idle(1.0)


@pytest.mark.req("ORCH-7004")
async def test_engine_rejecting_the_request_maps_to_invalid_params(make_target: TargetFactory) -> None:
    async with make_target(config=MockConfig(ctx_max=32)) as target:
        with pytest.raises(InvalidParams):
            await collect(target.adapter, request(prompt="word " * 40))


@pytest.mark.req("ORCH-7004")
async def test_error_event_inside_the_stream_maps_to_internal(make_target: TargetFactory) -> None:
    async with make_target(faults=Faults(error_at=2)) as target:
        seen = 0
        with pytest.raises(Internal, match="injected engine error"):
            async for _ in target.adapter.stream(request(max_tokens=20)):
                seen += 1
    assert seen == 2


@pytest.mark.req("ORCH-7004")
@pytest.mark.parametrize(("status", "plain", "error"), [(500, True, Internal), (503, False, PoolUnavailable)])
async def test_engine_failure_status_maps_to_its_typed_error(
    make_target: TargetFactory, status: int, plain: bool, error: type[Exception]
) -> None:
    async with make_target(faults=Faults(fail_status=status, fail_plain=plain)) as target:
        with pytest.raises(error):
            await collect(target.adapter, request())


@pytest.mark.req("ORCH-7005")
async def test_unavailable_engine_is_retried_before_the_first_token(make_target: TargetFactory) -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0.05)

    policy = RetryPolicy(attempts=40, base_s=0.05, cap_s=0.05, sleep=sleep)
    async with make_target(config=MockConfig(loading_s=0.4), options=fast_options(retry=policy)) as target:
        tokens, final = await collect(target.adapter, request(max_tokens=4))
    assert len(tokens) == 4 and final.stop_reason == "limit"
    assert pauses and all(0 <= p <= 0.05 for p in pauses)


@pytest.mark.req("ORCH-7005")
async def test_failure_after_a_token_is_never_retried(make_target: TargetFactory) -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    policy = RetryPolicy(attempts=5, base_s=0.01, cap_s=0.01, sleep=sleep)
    async with make_target(faults=Faults(fail_at=1), options=fast_options(retry=policy)) as target:
        with pytest.raises(WorkerReset):
            await collect(target.adapter, request())
        assert target.engine.stats.started == 1
    assert pauses == []


@pytest.mark.req("ORCH-7008")
async def test_health_is_starting_while_loading_then_ready(make_target: TargetFactory) -> None:
    async with make_target(config=MockConfig(loading_s=0.5)) as target:
        loading = await target.adapter.health()
        assert (loading.state, loading.ready) == ("starting", False)
        assert loading.reason
        for _ in range(100):
            health = await target.adapter.health()
            if health.ready:
                break
            await asyncio.sleep(0.02)
        assert (health.state, health.live, health.ready) == ("ready", True, True)


@pytest.mark.req("ORCH-7008")
async def test_health_is_dead_when_the_engine_fails_after_being_ready(make_target: TargetFactory) -> None:
    async with make_target() as target:
        assert (await target.adapter.health()).state == "ready"
        target.engine.faults.dead = True
        health = await target.adapter.health()
    assert (health.state, health.ready, health.live) == ("dead", False, False)


@pytest.mark.req("ORCH-7007")
async def test_metrics_count_tokens_and_requests(make_target: TargetFactory) -> None:
    async with make_target() as target:
        _, final = await collect(target.adapter, request(max_tokens=9))
        metrics = await target.adapter.metrics()
        token_metrics = target.traits.token_metrics
    assert metrics.requests_running == 0 and metrics.requests_queued == 0
    if token_metrics:
        assert (metrics.tokens_in_total, metrics.tokens_out_total) == (final.tokens_in, 9)
    else:
        assert (metrics.tokens_in_total, metrics.tokens_out_total) == (None, None)


@pytest.mark.req("ORCH-7007", "ORCH-7014")
async def test_requests_beyond_the_slots_wait_and_show_as_queued(make_target: TargetFactory) -> None:
    options = fast_options(slots_total=1)
    async with make_target(
        config=MockConfig(slots=1), faults=Faults(token_delay_ms=10), options=options
    ) as target:
        first = asyncio.create_task(collect(target.adapter, request(max_tokens=30)))
        second = asyncio.create_task(collect(target.adapter, request(max_tokens=30, seed=9)))
        for _ in range(100):
            busy = await target.adapter.metrics()
            if busy.requests_queued == 1:
                break
            await asyncio.sleep(0.01)
        props = await target.adapter.props()
        results = await asyncio.gather(first, second)
    assert (busy.requests_running, busy.requests_queued) == (1, 1)
    assert (props.slots_total, props.slots_idle) == (1, 0)
    assert all(final.tokens_out == 30 for _, final in results)


@pytest.mark.req("ORCH-7001")
async def test_props_report_capacity_and_identity(make_target: TargetFactory, target_name: str) -> None:
    options = fast_options(slots_total=3 if target_name == "vllm" else None)
    async with make_target(config=MockConfig(slots=3, ctx_max=1024), options=options) as target:
        props = await target.adapter.props()
    assert (props.slots_total, props.slots_idle, props.ctx_max) == (3, 3, 1024)
    assert props.engine == ("mock" if target_name == "inproc" else target_name)
    assert props.engine_version and props.engine_version != "unknown"
    assert props.model_id
