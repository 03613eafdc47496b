"""Resolve a pool's `model_ref` to a model file on this host (ORCH-6002).

Two forms are accepted:

* a local file path (absolute, or relative to the configuration file's directory), or a model directory;
* `pkg:<distribution>[/<relative file>]`: a model shipped by an installed Python distribution. The file is
  located from the distribution's metadata without importing the package, because model packages often
  import heavy runtimes in their `__init__`. A distribution that ships its model in parts and exposes an
  `assemble(path)` function (and no model file of its own) is assembled once into the model cache.

Any other scheme fails fast with an `InvalidParams` that names what is missing.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from orchestrator_core.errors import InvalidParams

PKG_SCHEME = "pkg:"
MODEL_SUFFIXES = (".gguf", ".safetensors", ".bin", ".onnx", ".plan", ".engine")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")


def resolve_model_ref(model_ref: str, cache_dir: Path, base_dir: Path | None = None) -> Path:
    """The absolute path of the model `model_ref` names; raises InvalidParams when it cannot be found.

    A relative local path is taken relative to `base_dir` (the configuration file's directory).
    """
    if not model_ref.strip():
        raise InvalidParams("model_ref is empty")
    if model_ref.startswith(PKG_SCHEME):
        return _resolve_package_model(model_ref, cache_dir)
    scheme = _SCHEME.match(model_ref)
    if scheme is not None and scheme["scheme"].lower() != "file" and len(scheme["scheme"]) > 1:
        raise InvalidParams(
            f"model_ref {model_ref!r}: scheme {scheme['scheme']!r} is not supported; "
            "use a local file path or pkg:<distribution>[/<relative file>]"
        )
    path = Path(model_ref.removeprefix("file://")).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return _existing_file(path.resolve(), model_ref, directory_ok=True)


def _existing_file(path: Path, model_ref: str, directory_ok: bool = False) -> Path:
    if not path.exists():
        raise InvalidParams(
            f"model_ref {model_ref!r}: no such file {str(path)!r}; give an existing model file path "
            "or pkg:<distribution>[/<relative file>]"
        )
    if not (path.is_file() or (directory_ok and path.is_dir())):
        raise InvalidParams(f"model_ref {model_ref!r}: {str(path)!r} is not a regular file")
    return path


def _resolve_package_model(model_ref: str, cache_dir: Path) -> Path:
    spec = model_ref.removeprefix(PKG_SCHEME)
    distribution_name, _, relative = spec.partition("/")
    if not distribution_name:
        raise InvalidParams(f"model_ref {model_ref!r}: missing the distribution name after 'pkg:'")
    try:
        distribution = importlib.metadata.distribution(distribution_name)
    except importlib.metadata.PackageNotFoundError:
        raise InvalidParams(
            f"model_ref {model_ref!r}: distribution {distribution_name!r} is not installed "
            f"(install it with pip install {distribution_name})"
        ) from None
    if relative:
        return _distribution_file(distribution, relative, model_ref)
    shipped = _shipped_models(distribution)
    if len(shipped) == 1:
        return _existing_file(Path(str(distribution.locate_file(shipped[0]))).resolve(), model_ref)
    if len(shipped) > 1:
        names = ", ".join(str(p) for p in shipped)
        raise InvalidParams(
            f"model_ref {model_ref!r}: distribution {distribution_name!r} ships several models ({names}); "
            "name one as pkg:<distribution>/<relative file>"
        )
    return _assemble(distribution, model_ref, cache_dir)


def _distribution_file(distribution: importlib.metadata.Distribution, relative: str, model_ref: str) -> Path:
    wanted = PurePosixPath(relative)
    if wanted.is_absolute() or ".." in wanted.parts:
        raise InvalidParams(f"model_ref {model_ref!r}: the file part must be relative to the distribution")
    for listed in distribution.files or []:
        if PurePosixPath(str(listed)) == wanted:
            return _existing_file(Path(str(distribution.locate_file(listed))).resolve(), model_ref)
    raise InvalidParams(
        f"model_ref {model_ref!r}: distribution {distribution.metadata['Name']!r} has no file {relative!r}"
    )


def _shipped_models(distribution: importlib.metadata.Distribution) -> list[PurePosixPath]:
    return [
        PurePosixPath(str(listed))
        for listed in distribution.files or []
        if str(listed).lower().endswith(MODEL_SUFFIXES) and ".dist-info/" not in str(listed)
    ]


def _top_level_modules(distribution: importlib.metadata.Distribution) -> list[str]:
    listed = distribution.read_text("top_level.txt") or ""
    names = [line.strip() for line in listed.splitlines() if line.strip()]
    if names:
        return names
    return sorted(
        {
            str(f).split("/", 1)[0]
            for f in distribution.files or []
            if str(f).endswith("/__init__.py") and ".dist-info" not in str(f)
        }
    )


def _assemble(distribution: importlib.metadata.Distribution, model_ref: str, cache_dir: Path) -> Path:
    """Assemble a model shipped in parts; the package is imported only here, after it showed no model file."""
    name = distribution.metadata["Name"]
    for module_name in _top_level_modules(distribution):
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        assemble: object = getattr(module, "assemble", None)
        if not callable(assemble):
            continue
        file_name = str(getattr(module, "MODEL_NAME", f"{module_name}.gguf"))
        target = cache_dir.resolve() / file_name
        try:
            produced = _call_assemble(assemble, target)
        except (OSError, ValueError) as exc:
            raise InvalidParams(f"model_ref {model_ref!r}: assembling {name!r} failed: {exc}") from exc
        return _existing_file(produced.resolve(), model_ref)
    raise InvalidParams(
        f"model_ref {model_ref!r}: distribution {name!r} ships no model file "
        f"(none ending in {', '.join(MODEL_SUFFIXES)}) and no assemble() function"
    )


def _call_assemble(assemble: Callable[..., object], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    produced = assemble(target)
    return Path(str(produced)) if produced is not None else target
