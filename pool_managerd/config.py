"""pool_managerd's configuration: the validated config file mapped to the supervisor's node plan.

Loading and validation belong to `contracts.config_schema` (unknown keys are errors naming the key path,
ORCH-6001). This is also pool_managerd's one reader of the process environment: engines inherit it, with
their device mask added.
"""

from __future__ import annotations

import os
from pathlib import Path

from contracts.config_schema.pool_managerd import Pool, PoolManagerdConfig
from contracts.config_schema.settings import PoolManagerdSettings
from pool_managerd.determinism import check_strict_pools
from pool_managerd.spec import NodeSpec, PoolSpec, RestartPolicy


def load_settings(config_path: Path | None) -> PoolManagerdConfig:
    """The config file (or POOLMGR_CONFIG) with POOLMGR_* overrides applied, validated; strict pools
    must be able to run strict (ORCH-3505)."""
    settings = PoolManagerdSettings() if config_path is None else PoolManagerdSettings(config=config_path)
    config = settings.resolve()
    check_strict_pools(config.pools, str(settings.config or "POOLMGR_* environment"))
    return config


def node_spec(config: PoolManagerdConfig, config_dir: Path | None = None) -> NodeSpec:
    """The supervisor's plan for `config`; relative model paths are taken from `config_dir`."""
    return NodeSpec(
        host_id=config.host_id,
        pools=tuple(pool_spec(pool) for pool in config.pools),
        log_dir=config.log_dir,
        orchestratord_url=config.orchestratord_url,
        node_token=config.node_token.get_secret_value(),
        heartbeat_interval_ms=config.heartbeat_interval_ms,
        registration_backoff_ms=(config.registration_backoff.initial_ms, config.registration_backoff.max_ms),
        model_cache_dir=config.model_cache_dir,
        config_dir=config_dir,
        stop_grace_s=config.stop_grace_ms / 1000,
    )


def pool_spec(pool: Pool) -> PoolSpec:
    return PoolSpec(
        pool_id=pool.id,
        engine=pool.engine,
        model_ref=pool.model_ref,
        model_id=pool.model_id,
        workloads=tuple(dict.fromkeys(pool.workloads)),
        replicas=pool.replicas,
        devices=pool.devices if isinstance(pool.devices, str) else tuple(pool.devices),
        slots=pool.slots,
        ctx=pool.ctx,
        engine_flags=tuple(pool.engine_flags),
        determinism=pool.determinism,
        port_range=pool.port_range,
        command_template=tuple(pool.command_template) if pool.command_template is not None else None,
        binary=pool.binary,
        vram_bytes_per_replica=pool.vram_bytes_per_replica,
        advertise_host=pool.advertise_host or "127.0.0.1",
        start_timeout_s=pool.start_timeout_ms / 1000,
        reload_timeout_s=pool.reload_timeout_ms / 1000,
        restart=RestartPolicy(
            backoff_initial_ms=pool.restart.backoff_initial_ms,
            backoff_max_ms=pool.restart.backoff_max_ms,
            backoff_reset_after_ms=pool.restart.backoff_reset_after_ms,
            breaker_crashes=pool.restart.breaker_crashes,
            breaker_window_ms=pool.restart.breaker_window_ms,
        ),
        drain_deadline_ms=pool.drain_deadline_ms,
        threads=pool.threads,
    )


def engine_environment() -> dict[str, str]:
    """The environment engines start from (pool_managerd's own)."""
    return dict(os.environ)
