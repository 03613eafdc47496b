"""Which pools can run strict determinism, and the mode their replicas register (ORCH-3505, ORCH-6015).

Strict means the engine decodes one sequence at a time with nothing shared between requests, so a seeded
request gives the same stream on every replica of a set. pool_managerd can launch two engines that way:
llama.cpp (one slot, `--parallel 1 --no-cont-batching`) and vLLM (one sequence, `--max-num-seqs 1`, and
`--no-enable-prefix-caching`). TGI's prefix caching and Triton's in-flight batching are set outside the
launch flags pool_managerd controls (the launcher's environment, the model repository), so their replicas
are best_effort and a pool configured strict on them is refused when the configuration is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.config_schema.pool_managerd import Pool
from orchestrator_core.errors import InvalidParams
from orchestrator_core.vocabulary import BEST_EFFORT, STRICT, Determinism
from pool_managerd.engine_command import LLAMACPP, VLLM, effective_slots
from pool_managerd.spec import PoolSpec

STRICT_ENGINES = frozenset({LLAMACPP, VLLM})


def strict_refusal(engine: str, slots: int) -> str | None:
    """Why a pool of `engine` with `slots` per replica cannot run strict, or None when it can."""
    if engine not in STRICT_ENGINES:
        return (
            f"engine {engine} cannot run strict determinism (only {', '.join(sorted(STRICT_ENGINES))} can); "
            "set determinism: best_effort"
        )
    if slots != 1:
        return f"strict determinism on {engine} runs one slot per replica (got slots {slots})"
    return None


def check_strict_pools(pools: Sequence[Pool], source: str) -> None:
    """Refuse strict pools whose engine cannot run strict; the message names the file and key path."""
    for index, pool in enumerate(pools):
        if pool.determinism != STRICT:
            continue
        problem = strict_refusal(pool.engine, effective_slots(pool.engine, pool.determinism, pool.slots))
        if problem is not None:
            raise InvalidParams(f"{source}: pools.{index}.determinism: {problem}")


def running_mode(spec: PoolSpec) -> Determinism:
    """The mode the pool's replicas run in as launched: strict only when configured so and possible."""
    if spec.determinism != STRICT:
        return BEST_EFFORT
    slots = effective_slots(spec.engine, spec.determinism, spec.slots)
    return STRICT if strict_refusal(spec.engine, slots) is None else BEST_EFFORT
