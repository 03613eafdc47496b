"""A replica's engine_version is what its engine reports, per engine; without one it never becomes ready."""

from __future__ import annotations

import httpx
import pytest
import respx

from mock_engine.llamacpp_wire import BUILD_INFO
from mock_engine.tgi_wire import TGI_VERSION
from mock_engine.triton_wire import TRITON_VERSION
from mock_engine.vllm_wire import VLLM_VERSION
from orchestrator_core.errors import PoolUnready
from pool_managerd.readiness import check_ready
from tests.adapters.helpers import fast_options, open_target
from worker_adapters.factory import create_adapter

BASE = "http://engine.test"
MODEL_CONFIG = {"max_batch_size": 1, "parameters": {"max_seq_len": {"string_value": "2048"}}}


@pytest.mark.req("ORCH-7019", "ORCH-6006")
@pytest.mark.parametrize(
    ("engine", "reported"),
    [("llamacpp", BUILD_INFO), ("vllm", VLLM_VERSION), ("tgi", TGI_VERSION), ("triton", TRITON_VERSION)],
)
async def test_engine_version_is_the_one_the_engine_reports(engine: str, reported: str) -> None:
    async with open_target(engine) as target:
        report = await check_ready(target.adapter)
    assert report.engine_version == reported


# Each engine's identity routes answering without a version; everything else a ready engine would say.
SILENT: dict[str, dict[str, object]] = {
    "llamacpp": {
        "/health": {"status": "ok"},
        "/props": {"total_slots": 1, "model_path": "m.gguf", "default_generation_settings": {"n_ctx": 2048}},
        "/slots": [{"id": 0, "is_processing": False}],
    },
    "vllm": {"/health": {}, "/v1/models": {"data": [{"id": "m", "max_model_len": 2048}]}, "/version": {}},
    "tgi": {
        "/health": {},
        "/info": {"model_id": "m", "max_total_tokens": 2048, "max_concurrent_requests": 1},
    },
    "triton": {
        "/v2/health/ready": {},
        "/v2": {"name": "triton"},
        "/v2/models/ensemble": {"name": "ensemble", "versions": ["1"]},
        "/v2/models/ensemble/config": MODEL_CONFIG,
    },
}


@pytest.mark.req("ORCH-7019")
@pytest.mark.parametrize("engine", list(SILENT))
async def test_an_engine_that_does_not_report_its_version_never_becomes_ready(engine: str) -> None:
    adapter = create_adapter(engine, BASE, fast_options())
    try:
        with respx.mock(base_url=BASE, assert_all_called=False) as mock:
            for path, body in SILENT[engine].items():
                mock.get(path).mock(return_value=httpx.Response(200, json=body))
            mock.get("/metrics").mock(return_value=httpx.Response(200, text=""))
            generate = mock.post(url__regex=r".*").mock(return_value=httpx.Response(500))
            with pytest.raises(PoolUnready, match="did not report its engine_version"):
                await check_ready(adapter)
            assert not generate.called, "no self-test decode once the version is missing"
    finally:
        await adapter.aclose()
