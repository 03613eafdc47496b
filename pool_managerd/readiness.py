"""Replica readiness: engine health OK, props read, and a one-token self-test decode (ORCH-6006).

engine_version must come from the engine itself (ORCH-7019): an engine that does not report one (the
adapters then say "unknown") never becomes ready, since replica-set identity depends on it.

The checks go through the engine adapters of `worker_adapters`, the same code orchestratord streams with,
so a replica is reported ready only when the path that will serve tasks works end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from orchestrator_core.errors import OrchError, PoolUnready
from worker_adapters.protocol import EngineAdapter
from worker_adapters.types import FinalEvent, GenerateRequest, TokenEvent

AdapterFactory = Callable[[str, str], EngineAdapter]
"""Builds the adapter of one replica from (engine, base_url)."""

_UNREPORTED_VERSIONS = frozenset({"", "unknown"})

SELF_TEST_REQUEST = GenerateRequest(max_tokens=1, seed=0, prompt="Hello", temperature=0.0)


@runtime_checkable
class ModelConfigSource(Protocol):
    """An adapter whose engine reports its model configuration (Triton), the source of its digest."""

    async def model_config(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ReadyReport:
    """What a replica told us when it proved ready; `model_config` only from a ModelConfigSource."""

    engine_version: str
    ctx_max: int
    slots_total: int
    model_id: str
    model_config: dict[str, Any] | None = None


async def check_ready(adapter: EngineAdapter) -> ReadyReport:
    """Run the three readiness checks; raises PoolUnready naming the check that failed."""
    health = await adapter.health()
    if not health.ready:
        raise PoolUnready(f"engine health is {health.state}: {health.reason or 'not ready'}")
    try:
        props = await adapter.props()
    except OrchError as exc:
        raise PoolUnready(f"engine props unreadable: {exc.message}") from exc
    if props.engine_version.strip() in _UNREPORTED_VERSIONS:
        raise PoolUnready(f"{props.engine} did not report its engine_version; it cannot become ready")
    await _self_test(adapter)
    return ReadyReport(
        engine_version=props.engine_version,
        ctx_max=props.ctx_max,
        slots_total=props.slots_total,
        model_id=props.model_id,
        model_config=await _model_config(adapter),
    )


async def _model_config(adapter: EngineAdapter) -> dict[str, Any] | None:
    if not isinstance(adapter, ModelConfigSource):
        return None
    try:
        return await adapter.model_config()
    except OrchError as exc:
        raise PoolUnready(f"engine model config unreadable: {exc.message}") from exc


async def _self_test(adapter: EngineAdapter) -> None:
    tokens = 0
    final: FinalEvent | None = None
    try:
        async with aclosing(adapter.stream(SELF_TEST_REQUEST)) as events:
            async for event in events:
                if isinstance(event, TokenEvent):
                    tokens += 1
                else:
                    final = event
    except OrchError as exc:
        raise PoolUnready(f"self-test decode failed: {exc.code}: {exc.message}") from exc
    if final is None:
        raise PoolUnready("self-test decode ended without a final event")
    if max(tokens, final.tokens_out) < 1:
        raise PoolUnready("self-test decode produced no token")


async def in_flight(adapter: EngineAdapter) -> int:
    """Requests the engine is serving now, from its busy slots; raises a typed error if unreadable."""
    props = await adapter.props()
    return max(0, props.slots_total - props.slots_idle)
