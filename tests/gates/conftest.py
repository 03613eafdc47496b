"""Fixtures of the release gates: the gate settings and the orchestratord they run against."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from contracts.config_schema.settings import GateSettings
from test_harness.haiku.orchqueue import auth_headers
from test_harness.llama_server import find_smollm2
from test_harness.stack import DEFAULT_MODEL_REF, local_stack


@dataclass(frozen=True)
class GateTarget:
    """The orchestratord a gate drives, the model to ask for, and the served file's digest when known."""

    url: str
    api_key: str | None
    model_ref: str
    expected_digest: str | None

    def client(self, timeout_s: float = 60.0) -> httpx.Client:
        """An HTTP client for the OrchQueue v1 API of this target."""
        return httpx.Client(
            base_url=self.url, headers=auth_headers(self.api_key), timeout=timeout_s, trust_env=False
        )


def file_digest(path: Path) -> str:
    """`sha256:<hex>` of a file, as pool_managerd reports a model digest (ORCH-6010)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


@pytest.fixture(scope="session")
def gate_settings() -> GateSettings:
    """The environment of the gates, read by the one config module."""
    return GateSettings()


def remote_target(settings: GateSettings) -> GateTarget | None:
    """The orchestratord named by the environment, if one was named (ORCH-9022)."""
    url = settings.e2e_url
    if url is None:
        return None
    api_key = settings.e2e_api_key.get_secret_value() if settings.e2e_api_key else None
    with httpx.Client(base_url=url, headers=auth_headers(api_key), trust_env=False) as client:
        models = client.get("/v1/models").json().get("data", [])
    if not models:
        pytest.fail(f"{url} serves no model (GET /v1/models is empty)")
    return GateTarget(url=url, api_key=api_key, model_ref=str(models[0]["id"]), expected_digest=None)


@pytest.fixture(scope="module")
def haiku_target(
    gate_settings: GateSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GateTarget]:
    """The remote orchestratord when one is given, else the local stack with the bundled SmolLM2."""
    remote = remote_target(gate_settings)
    if remote is not None:
        yield remote
        return
    with local_stack(replicas=1, work_dir=tmp_path_factory.mktemp("haiku-stack")) as stack:
        yield GateTarget(
            url=stack.orchestratord_url,
            api_key=None,
            model_ref=DEFAULT_MODEL_REF,
            expected_digest=file_digest(find_smollm2()),
        )
