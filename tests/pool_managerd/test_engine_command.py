"""Engine command lines from templates: llama.cpp defaults, strict determinism flags, placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.config_schema.pool_managerd import Pool
from orchestrator_core.errors import InvalidParams
from pool_managerd.engine_command import DEFAULT_TEMPLATES, CommandValues, build_command

POOL: dict[str, object] = {
    "id": "p1",
    "model_ref": "/models/m.gguf",
    "devices": "cpu",
    "port_range": [20000, 20003],
}


def values(**changes: object) -> CommandValues:
    base: dict[str, object] = {
        "engine": "llamacpp",
        "model": Path("/models/my model.gguf"),
        "host": "127.0.0.1",
        "port": 20001,
        "slots": 1,
        "ctx": 2048,
        "threads": 2,
        "pool_id": "p1",
        "replica_id": "p1-r0",
        "determinism": "strict",
    }
    base.update(changes)
    return CommandValues(**base)  # type: ignore[arg-type]


@pytest.mark.req("ORCH-6015", "ORCH-3502")
def test_strict_llamacpp_runs_one_slot_without_continuous_batching() -> None:
    argv = build_command(values(slots=4), binary="/bin/true")
    assert argv == [
        "/bin/true", "-m", "/models/my model.gguf", "--host", "127.0.0.1", "--port", "20001",
        "--metrics", "--jinja", "-np", "1", "-c", "2048", "-t", "2", "-a", "my model", "--no-cont-batching",
    ]  # fmt: skip


@pytest.mark.req("ORCH-6015")
def test_best_effort_llamacpp_gives_each_slot_its_context() -> None:
    argv = build_command(values(slots=4, determinism="best_effort"), binary="/bin/true")
    assert argv[argv.index("-np") + 1] == "4"
    assert argv[argv.index("-c") + 1] == "8192"
    assert "--no-cont-batching" not in argv


@pytest.mark.req("ORCH-6015")
def test_default_binary_is_the_installed_llama_server() -> None:
    argv = build_command(values())
    assert argv[0].endswith("/llama-server")
    assert Path(argv[0]).is_file()


def test_custom_template_words_and_engine_flags() -> None:
    template = ["{python}", "-m", "mock_engine", "--port", "{port}", "--model-id", "{model_id}"]
    argv = build_command(values(engine_flags=("--ttft-ms", "5")), template)
    assert argv[1:] == [
        "-m",
        "mock_engine",
        "--port",
        "20001",
        "--model-id",
        "my model",
        "--ttft-ms",
        "5",
    ]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (["{binary}", "--gpu", "{gpu}"], "unknown placeholder {gpu}"),
        (["/no/such/engine", "{port}"], "engine executable '/no/such/engine' not found"),
        ([], "command_template is empty"),
    ],
)
def test_bad_templates_fail_fast(template: list[str], message: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        build_command(values(), template, binary="/bin/true")
    assert message in raised.value.message


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(InvalidParams, match="engine 'ollama'"):
        build_command(values(engine="ollama"))


@pytest.mark.req("ORCH-6019", "ORCH-6001")
@pytest.mark.parametrize("engine", sorted(DEFAULT_TEMPLATES))
def test_the_config_validator_accepts_every_placeholder_of_the_default_templates(engine: str) -> None:
    template = DEFAULT_TEMPLATES[engine]
    words = template.split() if isinstance(template, str) else list(template)
    pool = Pool.model_validate({**POOL, "engine": engine, "command_template": words})
    assert pool.command_template == words


@pytest.mark.req("ORCH-6019")
def test_model_id_and_ctx_total_are_placeholders_of_a_configured_template() -> None:
    words = ["{binary}", "-m", "{model}", "--port", "{port}", "-a", "{model_id}", "-c", "{ctx_total}"]
    pool = Pool.model_validate({**POOL, "engine": "llamacpp", "command_template": words})
    argv = build_command(values(slots=1, model_id="smol"), pool.command_template, binary="/bin/true")
    assert argv[-4:] == ["-a", "smol", "-c", "2048"]
