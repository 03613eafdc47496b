"""Building blocks shared by the orchestratord and pool_managerd configuration types."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo

Engine = Literal["llamacpp", "vllm", "tgi", "triton"]
LogLevel = Literal["debug", "info", "warning", "error"]

Millis = Annotated[int, Field(ge=0, description="milliseconds")]
PositiveMillis = Annotated[int, Field(ge=1, description="milliseconds")]
Port = Annotated[int, Field(ge=1, le=65535)]
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    Field(description="1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"),
]
Sha256Hex = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(description="lowercase hex SHA-256 of the secret; the secret itself is never stored"),
]
ModelDigest = Annotated[
    str,
    StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$"),
    Field(description="`sha256:` and the lowercase hex SHA-256 of the model file"),
]
HttpUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s]*)?$"),
    Field(description="http:// or https:// URL"),
]

PKG_SCHEME = "pkg:"
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")
# PEP 508 distribution name.
_DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def sha256_hex(secret: str) -> str:
    """The stored form of an API key or node token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


CONFIG_DIR = "config_dir"  # validation context key: directory of the file being loaded


def check_model_ref(value: str, info: ValidationInfo) -> str:
    """Accept a local file path (optionally `file://`) or `pkg:<distribution>[/<relative file>]` (ORCH-6002).

    A relative path is made absolute against the directory of the configuration file when one is known.
    Only the form is checked here; pool_managerd resolves the file on its host and fails fast if missing.
    """
    if not value.strip():
        raise ValueError("model_ref is empty; use a local file path or pkg:<distribution>[/<relative file>]")
    if value.startswith(PKG_SCHEME):
        distribution, _, relative = value.removeprefix(PKG_SCHEME).partition("/")
        if not _DISTRIBUTION.match(distribution):
            raise ValueError(f"model_ref {value!r}: missing or invalid distribution name after 'pkg:'")
        if relative.startswith("/") or ".." in relative.split("/"):
            raise ValueError(f"model_ref {value!r}: the file part must be relative to the distribution")
        return value
    scheme = _SCHEME.match(value)
    # One letter is a Windows drive, not a scheme.
    if scheme and scheme["scheme"].lower() != "file" and len(scheme["scheme"]) > 1:
        raise ValueError(
            f"model_ref {value!r}: scheme {scheme['scheme']!r} is not supported; "
            "use a local file path or pkg:<distribution>[/<relative file>]"
        )
    config_dir = info.context.get(CONFIG_DIR) if isinstance(info.context, dict) else None
    if scheme is None and config_dir is not None and not Path(value).expanduser().is_absolute():
        return str(Path(config_dir) / value)
    return value


ModelRef = Annotated[
    str,
    AfterValidator(check_model_ref),
    Field(description="local model file path, or pkg:<distribution>[/<relative file>] for a packaged model"),
]


class ConfigModel(BaseModel):
    """Base of every config type: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Bind(ConfigModel):
    """Address a daemon listens on."""

    host: str = "127.0.0.1"
    port: Port

    @property
    def is_loopback(self) -> bool:
        """Whether only this host can reach the daemon (ORCH-5005 needs keys otherwise)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class Logging(ConfigModel):
    """Log verbosity and format; JSON lines by default."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    level: LogLevel = "info"
    # The key is `json`; the attribute is renamed because `json` is a BaseModel method.
    json_lines: bool = Field(default=True, alias="json")


Workloads = Annotated[
    list[Literal["completion", "chat", "embedding"]],
    Field(
        min_length=1,
        description=(
            "what the engine serves; `embedding` for a llama-server started with --embeddings --pooling mean "
            "(ORCH-1094)"
        ),
    ),
]
DEFAULT_WORKLOADS: list[Literal["completion", "chat", "embedding"]] = ["completion", "chat"]
