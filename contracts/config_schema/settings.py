"""The one place that reads the process environment: config file locations and overrides.

    ORCHD_CONFIG, ORCHD_HOST, ORCHD_PORT, ORCHD_LOG_LEVEL
    ORCHD_API_KEY (+ _TENANT, _ROLE), ORCHD_NODE_TOKEN   plain secrets, kept only as SHA-256
    POOLMGR_CONFIG, POOLMGR_HOST, POOLMGR_PORT, POOLMGR_LOG_LEVEL, POOLMGR_HOST_ID,
    POOLMGR_ORCHESTRATORD_URL, POOLMGR_NODE_TOKEN
    ORCH_URL, ORCH_API_KEY                          clients (CLI, SDK, release gates)
    REQUIRE_REAL_LLAMA                              release gates refuse a mock engine

Overrides are applied to the file's data before validation, so an overridden value is checked like one
written in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.config_schema.common import LogLevel, sha256_hex
from contracts.config_schema.loader import read_document, validate_config
from contracts.config_schema.orchestratord import OrchestratordConfig, Role
from contracts.config_schema.pool_managerd import PoolManagerdConfig


class OrchestratordSettings(BaseSettings):
    """Environment of orchestratord (prefix `ORCHD_`)."""

    model_config = SettingsConfigDict(env_prefix="ORCHD_", extra="forbid")

    config: Path | None = None
    host: str | None = None
    port: int | None = None
    log_level: LogLevel | None = None
    api_key: SecretStr | None = None
    api_key_tenant: str = "default"
    api_key_role: Role = "admin"
    node_token: SecretStr | None = None

    def resolve(self) -> OrchestratordConfig:
        """The configuration file (or the defaults) with these overrides applied, validated."""
        data = read_document(self.config) if self.config else {}
        _set(data, ("bind", "host"), self.host)
        _set(data, ("bind", "port"), self.port)
        _set(data, ("logging", "level"), self.log_level)
        if self.api_key is not None:
            key = {"sha256": sha256_hex(self.api_key.get_secret_value()), "tenant": self.api_key_tenant}
            _append(data, "api_keys", {**key, "role": self.api_key_role})
        if self.node_token is not None:
            _append(data, "node_tokens", sha256_hex(self.node_token.get_secret_value()))
        return validate_config(
            OrchestratordConfig, data, _source(self.config, "ORCHD_"), _directory(self.config)
        )


class PoolManagerdSettings(BaseSettings):
    """Environment of pool_managerd (prefix `POOLMGR_`)."""

    model_config = SettingsConfigDict(env_prefix="POOLMGR_", extra="forbid")

    config: Path | None = None
    host: str | None = None
    port: int | None = None
    log_level: LogLevel | None = None
    host_id: str | None = None
    orchestratord_url: str | None = None
    node_token: SecretStr | None = None

    def resolve(self) -> PoolManagerdConfig:
        """The configuration file with these overrides applied, validated."""
        data = read_document(self.config) if self.config else {}
        _set(data, ("bind", "host"), self.host)
        _set(data, ("bind", "port"), self.port)
        _set(data, ("logging", "level"), self.log_level)
        _set(data, ("host_id",), self.host_id)
        _set(data, ("orchestratord_url",), self.orchestratord_url)
        _set(data, ("node_token",), self.node_token.get_secret_value() if self.node_token else None)
        return validate_config(
            PoolManagerdConfig, data, _source(self.config, "POOLMGR_"), _directory(self.config)
        )


class ClientSettings(BaseSettings):
    """Environment of clients of orchestratord (prefix `ORCH_`): where it is and which key to send."""

    model_config = SettingsConfigDict(env_prefix="ORCH_", extra="forbid")

    url: str = "http://127.0.0.1:8080"
    api_key: SecretStr | None = None


class GateSettings(ClientSettings):
    """Environment of the release gates: the client settings, `REQUIRE_REAL_LLAMA`, `ORCH_E2E_URL`,
    `ORCH_E2E_API_KEY` and `ORCH_SUITE_STARTED_AT`."""

    model_config = SettingsConfigDict(env_prefix="ORCH_", extra="forbid", populate_by_name=True)

    require_real_llama: bool = Field(default=False, validation_alias="REQUIRE_REAL_LLAMA")
    # ORCH-9022: an orchestratord (a GPU pool, say) to run the gates against instead of the local stack.
    e2e_url: str | None = None
    e2e_api_key: SecretStr | None = None
    # ORCH-9018: when `make test` began checking (after set-up), as Unix seconds; the budget test reads it.
    suite_started_at: float | None = None


def _set(data: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    if value is None:
        return
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return  # leave the malformed value for validation to report
    node[path[-1]] = value


def _append(data: dict[str, Any], key: str, value: object) -> None:
    existing = data.setdefault(key, [])
    if isinstance(existing, list):  # otherwise validation reports the malformed value
        existing.append(value)


def _directory(config: Path | None) -> Path | None:
    return config.parent if config else None


def _source(config: Path | None, prefix: str) -> str:
    return f"{config} (with {prefix}* overrides)" if config else f"defaults (with {prefix}* overrides)"
