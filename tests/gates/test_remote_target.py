"""With ORCH_E2E_URL (and ORCH_E2E_API_KEY) set, the Haiku gate plays against that orchestratord instead of
starting the local stack (ORCH-9022)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from contracts.config_schema.settings import GateSettings
from tests.gates import conftest

REMOTE = "http://gpu-pool.example:8080"


class NoLocalStack:
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the local stack must not start when ORCH_E2E_URL is set")


@pytest.mark.req("ORCH-9022")
def test_the_gate_targets_the_named_orchestratord_with_its_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setenv("ORCH_E2E_URL", REMOTE)
    monkeypatch.setenv("ORCH_E2E_API_KEY", "gpu-key")
    monkeypatch.setattr(conftest, "local_stack", NoLocalStack())
    with respx.mock(assert_all_called=True) as router:
        models = router.get(f"{REMOTE}/v1/models").mock(
            return_value=httpx.Response(200, json={"object": "list", "data": [{"id": "gpu-model"}]})
        )
        fixture = conftest.haiku_target._get_wrapped_function()
        targets = fixture(GateSettings(), tmp_path_factory)
        target = next(targets)

    assert (target.url, target.api_key, target.model_ref) == (REMOTE, "gpu-key", "gpu-model")
    assert models.calls.last.request.headers["authorization"] == "Bearer gpu-key"
    with target.client() as client:
        assert (str(client.base_url).rstrip("/"), client.headers["authorization"]) == (
            REMOTE,
            "Bearer gpu-key",
        )
