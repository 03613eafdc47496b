"""The adapter of every replica, configured or registered by a node, built from the daemon's config in
one place: the timeouts (ORCH-4005, ORCH-7008) and the retry policy before the first token (ORCH-7005)."""

from __future__ import annotations

from contracts.config_schema.orchestratord import OrchestratordConfig, Retries, StaticReplica
from worker_adapters.factory import create_adapter
from worker_adapters.options import AdapterOptions
from worker_adapters.protocol import EngineAdapter
from worker_adapters.retry import RetryPolicy

from .nodes import NodeAdapterFactory


def retry_policy(retries: Retries) -> RetryPolicy:
    """`max_retries` retries after the first try, full jitter between `base_ms` and `cap_ms`."""
    return RetryPolicy(
        attempts=retries.max_retries + 1, base_s=retries.base_ms / 1000, cap_s=retries.cap_ms / 1000
    )


def adapter_options(config: OrchestratordConfig, slots_total: int, ctx_max: int) -> AdapterOptions:
    """The options of one replica's adapter; its stream connections follow its slots."""
    timeouts = config.timeouts
    return AdapterOptions(
        probe_timeout_s=timeouts.probe_connect_ms / 1000,
        connect_timeout_s=timeouts.connect_ms / 1000,
        idle_timeout_s=timeouts.decode_idle_ms / 1000,
        first_token_timeout_s=timeouts.first_token_ms / 1000,
        retry=retry_policy(config.retries),
        slots_total=slots_total,
        ctx_max=ctx_max,
    )


def http_adapter(replica: StaticReplica, config: OrchestratordConfig) -> EngineAdapter:
    """The HTTP adapter of a statically configured replica."""
    return create_adapter(
        replica.engine, replica.base_url, adapter_options(config, replica.slots, replica.ctx_max)
    )


def http_node_adapters(config: OrchestratordConfig) -> NodeAdapterFactory:
    """Adapters for the replicas nodes register, configured as the static ones are."""

    def make(engine: str, endpoint: str, slots_total: int, ctx_max: int) -> EngineAdapter:
        return create_adapter(engine, endpoint, adapter_options(config, slots_total, ctx_max))

    return make
