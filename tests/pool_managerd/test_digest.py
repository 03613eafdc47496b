"""Model digests: sha256 of the file, cached by (path, size, mtime); directories by their file list."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from orchestrator_core.errors import InvalidParams
from pool_managerd.digest import DigestCache


@pytest.mark.req("ORCH-6010")
def test_digest_is_sha256_of_the_file(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"model weights" * 1000)
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert DigestCache().digest(model) == f"sha256:{expected}"


@pytest.mark.req("ORCH-6010")
def test_unchanged_file_is_hashed_once(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"a" * 4096)
    cache = DigestCache()
    first = cache.digest(model)
    assert [cache.digest(model) for _ in range(3)] == [first] * 3
    assert cache.files_hashed == 1


@pytest.mark.req("ORCH-6010")
def test_changed_size_or_mtime_is_hashed_again(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"a" * 4096)
    cache = DigestCache()
    first = cache.digest(model)
    model.write_bytes(b"b" * 4096)
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = cache.digest(model)
    assert second != first
    assert second == "sha256:" + hashlib.sha256(b"b" * 4096).hexdigest()
    assert cache.files_hashed == 2


@pytest.mark.req("ORCH-6010")
def test_directory_digest_covers_sorted_file_lines(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.pbtxt").write_text("x")
    (tmp_path / "a.bin").write_bytes(b"y")
    lines = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in [("a.bin", b"y"), ("b/config.pbtxt", b"x")]
    )
    assert DigestCache().digest(tmp_path) == "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


@pytest.mark.req("ORCH-6010")
def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidParams, match="cannot be read"):
        DigestCache().digest(tmp_path / "gone.gguf")
