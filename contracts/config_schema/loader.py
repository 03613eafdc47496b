"""Load a configuration file (YAML or JSON) into a config type, with errors that name the file and the key.

    load_orchestratord_config(Path("orchestratord.yaml"))  -> OrchestratordConfig
    load_pool_managerd_config(Path("pool_managerd.yaml"))  -> PoolManagerdConfig

Every failure is an `InvalidParams` whose message reads `<file>: <key path>: <problem>`, e.g.
`pool.yaml: pools.0.replicas_x: unknown key` (ORCH-6001).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml
from pydantic import BaseModel, ValidationError

from contracts.config_schema.common import CONFIG_DIR
from contracts.config_schema.orchestratord import OrchestratordConfig
from contracts.config_schema.pool_managerd import PoolManagerdConfig
from orchestrator_core.errors import InvalidParams

ConfigT = TypeVar("ConfigT", bound=BaseModel)
_YAML_SUFFIXES = (".yaml", ".yml")


def read_document(path: Path) -> dict[str, Any]:
    """The mapping stored in a `.yaml`, `.yml` or `.json` file; an empty file is an empty mapping."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidParams(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    try:
        if path.suffix.lower() in _YAML_SUFFIXES:
            document = yaml.safe_load(raw)
        elif path.suffix.lower() == ".json":
            document = orjson.loads(raw)
        else:
            raise InvalidParams(f"{path}: config files end in .yaml, .yml or .json")
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise InvalidParams(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidParams(f"{path}: the top level must be a mapping, not {type(document).__name__}")
    return document


def key_path(loc: tuple[int | str, ...]) -> str:
    """A validation location as a dotted key path: `pools.1.devices`, `tenants.acme.quota`."""
    return ".".join(str(part) for part in loc) or "<top level>"


def describe(exc: ValidationError) -> str:
    """One line per problem: `key path: message`, unknown keys called what they are."""
    lines = []
    for error in exc.errors():
        where = key_path(error["loc"])
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{where}: {message.removeprefix('Value error, ')}")
    return "; ".join(lines)


def validate_config(
    model: type[ConfigT], data: Mapping[str, Any], source: str, config_dir: Path | None = None
) -> ConfigT:
    """`data` validated as `model`; raises InvalidParams naming `source` and every failing key path.

    Relative model paths are taken relative to `config_dir`, the directory of the file the data came from.
    """
    context = {CONFIG_DIR: config_dir.resolve()} if config_dir is not None else None
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise InvalidParams(f"{source}: {describe(exc)}") from exc


def load_config(path: Path, model: type[ConfigT]) -> ConfigT:
    """Read and validate one configuration file."""
    return validate_config(model, read_document(path), str(path), path.parent)


def load_orchestratord_config(path: Path) -> OrchestratordConfig:
    """Read and validate an orchestratord configuration file."""
    return load_config(path, OrchestratordConfig)


def load_pool_managerd_config(path: Path) -> PoolManagerdConfig:
    """Read and validate a pool_managerd configuration file."""
    return load_config(path, PoolManagerdConfig)
