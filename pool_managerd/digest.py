"""Model digests: `sha256:<hex>` of the model file, cached by (path, size, mtime) (ORCH-6010), or of the
engine's model configuration for engines whose weights pool_managerd does not hash (ORCH-7016).

Hashing a multi-hundred-megabyte model takes seconds and every replica restart checks the digest, so a
file is hashed again only when its size or modification time changes. A model directory digests the lines
`<sha256>  <relative path>\n` of its files sorted by path.

Triton serves from a model repository whose weights (TensorRT-LLM engines, checkpoints) live wherever its
configuration points, so its digest is taken from what the running engine reports instead:
`config_digest` = SHA-256 of the canonical JSON of `GET /v2/models/{model}/config` (orjson, keys sorted
recursively, no whitespace, UTF-8), then one `\n`, then the configured checkpoint path (the pool's
resolved model path, as passed to the engine) in UTF-8.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from orchestrator_core.errors import InvalidParams

DIGEST_PREFIX = "sha256:"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class _FileStamp:
    path: Path
    size: int
    mtime_ns: int


class DigestCache:
    """Computes `sha256:<hex>` digests of model files, hashing each (path, size, mtime) once."""

    def __init__(self) -> None:
        self._known: dict[_FileStamp, str] = {}
        self.files_hashed = 0

    def digest(self, path: Path) -> str:
        """The digest of the file or directory at `path`; raises InvalidParams when it cannot be read."""
        resolved = path.resolve()
        if resolved.is_dir():
            listing = "".join(
                f"{self._file_hex(f)}  {f.relative_to(resolved).as_posix()}\n"
                for f in sorted(p for p in resolved.rglob("*") if p.is_file())
            )
            return DIGEST_PREFIX + hashlib.sha256(listing.encode()).hexdigest()
        return DIGEST_PREFIX + self._file_hex(resolved)

    def _file_hex(self, resolved: Path) -> str:
        try:
            stat = resolved.stat()
        except OSError as exc:
            raise InvalidParams(f"model file {str(resolved)!r} cannot be read: {exc.strerror}") from exc
        stamp = _FileStamp(resolved, stat.st_size, stat.st_mtime_ns)
        cached = self._known.get(stamp)
        if cached is not None:
            return cached
        value = _sha256_of(resolved)
        self._known = {k: v for k, v in self._known.items() if k.path != resolved}
        self._known[stamp] = value
        self.files_hashed += 1
        return value


def config_digest(config: Mapping[str, Any], checkpoint: Path) -> str:
    """`sha256:` of the canonical JSON of an engine's model configuration and the checkpoint path."""
    try:
        canonical = orjson.dumps(config, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise InvalidParams(f"the engine's model configuration is not plain JSON: {exc}") from exc
    hasher = hashlib.sha256(canonical)
    hasher.update(b"\n")
    hasher.update(str(checkpoint).encode())
    return DIGEST_PREFIX + hasher.hexdigest()


def _sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                hasher.update(block)
    except OSError as exc:
        raise InvalidParams(f"model file {str(path)!r} cannot be read: {exc.strerror}") from exc
    return hasher.hexdigest()
