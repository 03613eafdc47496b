"""The one async protocol every engine adapter implements (ORCH-7001).

orchestratord drives `stream`; pool_managerd probes `health`, reads `props` and scrapes `metrics`.
Every method raises the typed errors of `orchestrator_core.errors`, never foreign ones.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol, runtime_checkable

from worker_adapters.types import EngineMetrics, GenerateRequest, Health, Props, StreamEvent


@runtime_checkable
class EngineAdapter(Protocol):
    """One engine replica seen through its wire protocol."""

    async def health(self) -> Health:
        """Probe liveness and readiness with a short connect timeout; never raises for a down engine."""
        ...

    async def props(self) -> Props:
        """Read capacity and identity. Raises PoolUnavailable when the engine is unreachable."""
        ...

    def stream(self, request: GenerateRequest) -> AsyncGenerator[StreamEvent, None]:
        """Yield TokenEvent(text, index) from 0, then exactly one FinalEvent.

        Closing the generator (aclose, leaving `contextlib.aclosing`, task cancellation) closes the
        upstream connection at once so the engine frees the slot (ORCH-7003). Raises PoolUnavailable,
        WorkerReset, DecodeTimeout, InvalidParams or Internal (ORCH-7004).
        """
        ...

    async def metrics(self) -> EngineMetrics:
        """Scrape the engine's Prometheus endpoint and read the families by name (ORCH-7007)."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client; the adapter is unusable afterwards."""
        ...
