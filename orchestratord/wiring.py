"""Builds every service of the daemon from its configuration, explicitly, in dependency order.

`Services` is a plain typed record handed to `create_app`, which passes each router only the services it
uses. Tests build `Services` with their own clock and in-process adapters.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from contracts.config_schema.orchestratord import OrchestratordConfig, SharedState, StaticReplica, Tenant
from orchestrator_core.predictions import ThroughputModel
from orchestrator_core.queue import FullPolicy, QueueConfig
from orchestrator_core.quotas import TenantLimits, TenantQuotas
from orchestrator_core.stores import LocalQuotas, QuotaStore
from worker_adapters.protocol import EngineAdapter

from .http.security import ApiKey, Authenticator, Role
from .redis_state.client import SharedRedis, shared_redis
from .redis_state.instances import InstanceLiveness, Reaper
from .redis_state.leases import RedisLeases
from .redis_state.nodes import SharedNodes
from .redis_state.queue import RedisTaskQueue
from .redis_state.quotas import RedisQuotas
from .redis_state.sessions import SharedSessions
from .redis_state.shared_tasks import SharedTasks, SharingSettings
from .redis_state.streams import RedisTranscripts
from .redis_state.tasks import RedisTaskTable
from .services.admission import AdmissionGate, AdmissionLimits, AdmissionService
from .services.dispatcher import Dispatcher
from .services.engine_adapters import http_adapter, http_node_adapters
from .services.lifecycle import TaskLifecycle
from .services.logs import EventLog
from .services.metrics import DaemonMetrics
from .services.nodes import LeaseSettings, NodeRegistry
from .services.pool_client import PoolClient, pool_client_for
from .services.queues import PoolQueues
from .services.replicas import ReplicaRegistry, ReplicaSpec
from .services.requeue import Requeuer
from .services.runner import RunSettings, TaskRunner
from .services.sessions import SessionLimits, SessionStore
from .services.shutdown import ShutdownCoordinator
from .services.signal import Wakeup
from .services.state import QueueStore, SessionState, TaskStore
from .services.task_registry import Retention, TaskRecord, TaskRegistry
from .services.task_spec import TaskState
from .services.tasks import TaskService

Clock = Callable[[], float]
AdapterFactory = Callable[[StaticReplica, OrchestratordConfig], EngineAdapter]


@dataclass(frozen=True, slots=True)
class SharedBackend:
    """The Redis side of the shared mode (ORCH-4106): its client, and the loops the lifespan runs."""

    redis: SharedRedis
    following: SharedRedis  # the blocking stream reads' own client
    tasks: SharedTasks
    leases: RedisLeases
    quotas: RedisQuotas
    liveness: InstanceLiveness
    reaper: Reaper
    nodes: SharedNodes
    sessions: SharedSessions


@dataclass(frozen=True, slots=True)
class Services:
    """Every long-lived object of one daemon instance."""

    config: OrchestratordConfig
    clock: Clock
    metrics: DaemonMetrics
    log: EventLog
    auth: Authenticator
    replicas: ReplicaRegistry
    registry: TaskStore
    sessions: SessionState
    quotas: QuotaStore
    queues: QueueStore
    lifecycle: TaskLifecycle
    gate: AdmissionGate
    admission: AdmissionService
    requeuer: Requeuer
    dispatcher: Dispatcher
    tasks: TaskService
    shutdown: ShutdownCoordinator
    nodes: NodeRegistry
    pool_client: PoolClient
    shared: SharedBackend | None = None


def static_replica_spec(replica: StaticReplica) -> ReplicaSpec:
    return ReplicaSpec(
        replica_id=replica.id,
        pool_id=replica.pool_id,
        engine=replica.engine,
        model_ref=replica.model_ref,
        ctx_max=replica.ctx_max,
        slots_total=replica.slots,
        model_digest=replica.model_digest,
        determinism=replica.determinism,
        model_names=(replica.model_id,) if replica.model_id is not None else (),
        workloads=tuple(dict.fromkeys(replica.workloads)),
    )


def authenticator(config: OrchestratordConfig) -> Authenticator:
    open_paths = [
        path
        for path, is_open in (
            ("/metrics", config.open_endpoints.metrics),
            ("/healthz", config.open_endpoints.healthz),
            ("/readyz", config.open_endpoints.readyz),
        )
        if is_open
    ]
    keys = [ApiKey(key.sha256, key.tenant, Role(key.role)) for key in config.api_keys]
    return Authenticator(keys, config.node_tokens, open_paths=open_paths)


def _limits(tenant: Tenant) -> TenantLimits:
    return TenantLimits(tenant.quota.max_concurrent, tenant.quota.tokens_per_minute)


def tenant_quotas(config: OrchestratordConfig) -> TenantQuotas:
    per_tenant = {name: _limits(tenant) for name, tenant in config.tenants.items()}
    return TenantQuotas(_limits(config.default_tenant), per_tenant)


def instance_id(state: SharedState) -> str:
    """This process's id in the cluster: the configured one (else host and pid) and a random suffix, so
    that a restarted instance is never taken for the one that died (ORCH-4112)."""
    return f"{state.instance_id or f'{socket.gethostname()}-{os.getpid()}'}~{secrets.token_hex(3)}"


def queue_config(config: OrchestratordConfig) -> Callable[[str], QueueConfig]:
    def for_pool(pool_id: str) -> QueueConfig:
        settings = config.queues.for_pool(pool_id)
        return QueueConfig(
            capacity=settings.capacity,
            policy=FullPolicy(settings.policy),
            interactive_weight=settings.class_weights.interactive,
            batch_weight=settings.class_weights.batch,
        )

    return for_pool


def build_services(
    config: OrchestratordConfig,
    *,
    clock: Clock = time.time,
    adapter_factory: AdapterFactory = http_adapter,
    metrics: DaemonMetrics | None = None,
    log: EventLog | None = None,
) -> Services:
    """Every service of the daemon, wired; static replicas are registered (unready until probed)."""
    metrics = metrics or DaemonMetrics(tenants=[key.tenant for key in config.api_keys])
    log = log or EventLog()
    wakeup = Wakeup()
    priors = config.predictions
    throughput = ThroughputModel(
        alpha=priors.ewma_alpha,
        prior_tokens_per_s=priors.tokens_per_second_prior,
        prior_first_token_ms=priors.first_token_ms_prior,
    )
    replicas = ReplicaRegistry(wakeup, throughput, config.model_aliases)
    for static in config.replicas:
        replicas.register(static_replica_spec(static), adapter_factory(static, config))
    streaming = config.streaming
    retention = Retention(streaming.transcript_retention_ms / 1000, streaming.transcript_retention_max_bytes)
    # Typed by their interfaces (services/state.py), so mypy checks that each implementation satisfies one.
    registry: TaskStore = TaskRegistry(clock, retention, metrics, log)
    sessions: SessionState = SessionStore(
        clock,
        SessionLimits(
            ttl_s=config.sessions.ttl_ms / 1000,
            max_turns=config.sessions.max_turns,
            tokens_budget=config.sessions.tokens_budget,
            time_budget_ms=config.sessions.time_budget_ms,
        ),
    )
    state = config.state
    redis = shared_redis(state) if state.backend == "redis" else None
    prefix = state.key_prefix
    quotas: QuotaStore
    if redis is None:
        quotas = LocalQuotas(tenant_quotas(config))
        queues: QueueStore = PoolQueues(queue_config(config), metrics)
    else:
        me = instance_id(state)
        quotas = redis_quotas = RedisQuotas(redis, lambda tenant: _limits(config.tenant(tenant)), prefix)
        redis_queues: dict[str, RedisTaskQueue] = {}  # the same queues as `queues`, for the reaper

        def shared_queue(pool_id: str, settings: QueueConfig) -> RedisTaskQueue:
            queue = redis_queues[pool_id] = RedisTaskQueue(redis, pool_id, settings, prefix, taker=me)
            return queue

        queues = PoolQueues(queue_config(config), metrics, make=shared_queue)
    lifecycle = TaskLifecycle(clock, metrics, log, sessions.budgets)
    nodes = NodeRegistry(
        clock=clock,
        replicas=replicas,
        adapters=http_node_adapters(config),
        lease=LeaseSettings(config.node_lease.heartbeat_interval_ms, config.node_lease.lease_intervals),
        metrics=metrics,
        log=log,
    )
    backend: SharedBackend | None = None
    if redis is not None:
        following = shared_redis(state, following=True)
        shared_tasks = SharedTasks(
            table=RedisTaskTable(redis, prefix=prefix),
            transcripts=RedisTranscripts(redis, prefix=prefix, following=following),
            registry=registry,
            lifecycle=lifecycle,
            settings=SharingSettings(me, state.transcript_flush_ms / 1000, retention.seconds),
        )
        liveness = InstanceLiveness(redis, prefix=prefix, instance_id=me, ttl_ms=state.lease_ttl_ms)
        backend = SharedBackend(
            redis,
            following,
            shared_tasks,
            RedisLeases(redis, ttl_ms=state.lease_ttl_ms, prefix=prefix),
            redis_quotas,
            liveness,
            Reaper(liveness=liveness, queues=redis_queues.values, shared=shared_tasks),
            SharedNodes(redis, prefix=prefix, registry=nodes),
            SharedSessions(redis, prefix=prefix, store=sessions),
        )
    shared = backend.tasks if backend is not None else None
    shared_leases = backend.leases if backend is not None else None
    shared_sessions = backend.sessions if backend is not None else None
    gate = AdmissionGate()
    limits = config.limits
    admission = AdmissionService(
        clock=clock,
        limits=AdmissionLimits(
            max_prompt_bytes=limits.max_prompt_bytes,
            max_tokens=limits.max_tokens,
            max_stop_sequences=limits.max_stop_sequences,
            max_stop_length=limits.max_stop_length,
            max_messages=limits.max_messages,
            max_deadline_ms=limits.max_deadline_ms,
        ),
        registry=registry,
        replicas=replicas,
        queues=queues,
        quotas=quotas,
        sessions=sessions,
        lifecycle=lifecycle,
        metrics=metrics,
        log=log,
        wakeup=wakeup,
        gate=gate,
        shared=shared,
        shared_sessions=shared_sessions,
    )
    requeuer = Requeuer(
        queues=queues,
        registry=registry,
        replicas=replicas,
        lifecycle=lifecycle,
        log=log,
        wakeup=wakeup,
        shared=shared,
    )
    runner = TaskRunner(
        clock=clock,
        settings=RunSettings(idle_timeout_s=config.timeouts.decode_idle_ms / 1000),
        replicas=replicas,
        sessions=sessions,
        lifecycle=lifecycle,
        requeuer=requeuer,
        queue_depth=lambda pool_id: len(queues.get(pool_id)),
        shared_sessions=shared_sessions,
    )
    dispatcher = Dispatcher(
        clock=clock,
        queues=queues,
        registry=registry,
        replicas=replicas,
        sessions=sessions,
        lifecycle=lifecycle,
        runner=runner,
        metrics=metrics,
        wakeup=wakeup,
        unready_wait_s=lambda pool_id: config.queues.for_pool(pool_id).unready_wait_ms / 1000,
        shared=shared,
        shared_leases=shared_leases,
        shared_sessions=shared_sessions,
    )
    tasks = TaskService(
        admission=admission,
        registry=registry,
        queues=queues,
        lifecycle=lifecycle,
        log=log,
        metrics=metrics,
        disconnect_grace_s=config.streaming.disconnect_grace_ms / 1000,
        shared=shared,
    )

    def settle(record: TaskRecord) -> None:
        quotas.release(record.task_id)
        if record.grace_timer is not None:
            record.grace_timer.cancel()
            record.grace_timer = None
        ran = record.tokens_out > 0 or (record.started_at is not None and record.state is TaskState.SUCCEEDED)
        decode_ms = 0.0
        if record.first_token_at is not None and record.ended_at is not None:
            decode_ms = (record.ended_at - record.first_token_at) * 1000
        session_id = record.spec.session_id
        used = (record.tokens_in or 0) + record.tokens_out  # the budget counts both (ORCH-2303)
        charge = partial(sessions.settle, record.task_id, session_id, used, decode_ms, ran)
        charge()
        if shared_sessions is not None and session_id is not None:
            shared_sessions.changed(session_id, charge)

    lifecycle.on_terminal(settle)
    lifecycle.on_terminal(registry.retain)
    if shared is not None:
        lifecycle.on_terminal(shared.ended)
    shutdown = ShutdownCoordinator(
        gate=gate,
        dispatcher=dispatcher,
        requeuer=requeuer,
        registry=registry,
        lifecycle=lifecycle,
        log=log,
        grace_s=config.shutdown_grace_ms / 1000,
    )
    return Services(
        config=config,
        clock=clock,
        metrics=metrics,
        log=log,
        auth=authenticator(config),
        replicas=replicas,
        registry=registry,
        sessions=sessions,
        quotas=quotas,
        queues=queues,
        lifecycle=lifecycle,
        gate=gate,
        admission=admission,
        requeuer=requeuer,
        dispatcher=dispatcher,
        tasks=tasks,
        shutdown=shutdown,
        nodes=nodes,
        pool_client=pool_client_for(config.timeouts),
        shared=backend,
    )
