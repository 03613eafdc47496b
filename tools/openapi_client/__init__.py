"""The OrchQueue v1 Python SDK: `Client` (blocking) and `AsyncClient` (asyncio), typed with the models
generated from the contracts, raising the typed errors of `orchestrator_core.errors`."""

from contracts.api_types.data import EndEvent, MetricsEvent, StartedEvent, TaskRequest, TokenEvent

from .async_client import AsyncClient
from .client import Client
from .errors import OrchestratordUnreachable, envelope_of
from .retry import RetryPolicy
from .stream import StreamItem

__all__ = (
    "AsyncClient",
    "Client",
    "EndEvent",
    "MetricsEvent",
    "OrchestratordUnreachable",
    "RetryPolicy",
    "StartedEvent",
    "StreamItem",
    "TaskRequest",
    "TokenEvent",
    "envelope_of",
)
