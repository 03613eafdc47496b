"""Cancel through the SDK: the stream ends with `canceled`, no token follows, and cancel is idempotent
(ORCH-9101, ORCH-1030)."""

from __future__ import annotations

import pytest

from contracts.api_types.data import EndEvent, TokenEvent
from orchestrator_core.errors import NotFound
from tests.sdk.live_orchd import MODEL, LiveOrchestratord
from tools.openapi_client import AsyncClient, Client

UNKNOWN = "00000000-0000-4000-8000-0000000000ff"


@pytest.mark.req("ORCH-9101", "ORCH-1030")
def test_cancel_mid_stream_ends_the_stream_canceled(orchd: LiveOrchestratord) -> None:
    orchd.set_faults(token_delay_ms=30)
    with Client(orchd.url) as client:
        task_id = str(client.submit({"model_ref": MODEL, "prompt": "long", "max_tokens": 300}).task_id)
        tokens = 0
        end: EndEvent | None = None
        for event in client.stream(task_id):
            if isinstance(event, TokenEvent):
                tokens += 1
                if tokens == 2:
                    client.cancel(task_id)
            elif isinstance(event, EndEvent):
                end = event
        client.cancel(task_id)  # idempotent
        status = client.status(task_id)
    assert end is not None and end.stop_reason == "canceled"
    assert tokens < 300
    assert status.state == "canceled"


@pytest.mark.req("ORCH-9101", "ORCH-1030")
async def test_async_cancel_of_an_unknown_task_is_not_found(orchd: LiveOrchestratord) -> None:
    async with AsyncClient(orchd.url) as client:
        with pytest.raises(NotFound):
            await client.cancel(UNKNOWN)


@pytest.mark.req("ORCH-9101", "ORCH-1040", "ORCH-1041", "ORCH-1050")
async def test_sessions_and_capabilities_decode_into_contract_models(orchd: LiveOrchestratord) -> None:
    session_id = "00000000-0000-4000-8000-00000000abcd"
    async with AsyncClient(orchd.url) as client:
        admission = await client.submit(
            {"model_ref": MODEL, "prompt": "s", "max_tokens": 2, "seed": 1, "session_id": session_id}
        )
        [event async for event in client.stream(str(admission.task_id))]
        info = await client.session(session_id)
        caps = await client.capabilities()
        await client.delete_session(session_id)
        with pytest.raises(NotFound):
            await client.session(session_id)
    assert str(info.session_id) == session_id and info.turns == 1
    assert caps.engines and caps.engines[0].engine == "llamacpp"
