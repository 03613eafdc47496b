"""pool_managerd's Prometheus metrics, exactly as `.specs/metrics/otel-prom.md` names them (ORCH-8001).

A collector reads the supervisor and the registration client at scrape time into an own registry: no
module-level metric objects. Every family is present from the first scrape, also without samples.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from pool_managerd.registration import RegistrationState
from pool_managerd.supervisor import Supervisor

_MIB = 1 << 20


def _version() -> str:
    try:
        return importlib.metadata.version("orchqueue")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


class SupervisorCollector(Collector):
    """Yields the node's metric families from fresh snapshots on every scrape."""

    def __init__(self, supervisor: Supervisor, registration: Callable[[], RegistrationState | None]) -> None:
        self._supervisor = supervisor
        self._registration = registration
        self._version = _version()

    def collect(self) -> Iterable[Metric]:
        yield from self._pools()
        yield from self._replicas()
        yield from self._gpus()
        yield from self._control_plane()
        build = GaugeMetricFamily(
            "poolmgr_build_info", "Always 1; the label gives the pool_managerd version.", labels=["version"]
        )
        build.add_metric([self._version], 1.0)
        yield build

    def _pools(self) -> Iterable[Metric]:
        breaker = GaugeMetricFamily(
            "poolmgr_circuit_breaker_open",
            "1 while the pool's circuit breaker is open, else 0.",
            labels=["pool_id"],
        )
        ready = GaugeMetricFamily(
            "poolmgr_pool_ready",
            "1 when at least one replica of the pool is ready and the breaker is closed, else 0.",
            labels=["pool_id"],
        )
        draining = GaugeMetricFamily(
            "poolmgr_pool_draining", "1 while the pool drains, else 0.", labels=["pool_id"]
        )
        load = HistogramMetricFamily(
            "poolmgr_model_load_seconds",
            "Time from spawning a replica to it becoming ready.",
            labels=["pool_id", "engine"],
        )
        reloads = CounterMetricFamily(
            "poolmgr_reloads", "Reload requests by result (ok, conflict).", labels=["pool_id", "result"]
        )
        drains = CounterMetricFamily("poolmgr_drains", "Drains started.", labels=["pool_id"])
        for pool in self._supervisor.pools.values():
            status = pool.status()
            breaker.add_metric([pool.pool_id], float(status.breaker_open))
            ready.add_metric([pool.pool_id], float(status.ready))
            draining.add_metric([pool.pool_id], float(status.draining))
            times = pool.counters.load_times
            buckets = [(f"{b:g}", float(n)) for b, n in zip(times.buckets, times.counts, strict=True)]
            buckets.append(("+Inf", float(times.count)))
            load.add_metric([pool.pool_id, pool.spec.engine], buckets, times.total)
            reloads.add_metric([pool.pool_id, "ok"], float(pool.counters.reloads_ok))
            reloads.add_metric([pool.pool_id, "conflict"], float(pool.counters.reloads_conflict))
            drains.add_metric([pool.pool_id], float(pool.counters.drains))
        return (breaker, ready, draining, load, reloads, drains)

    def _replicas(self) -> Iterable[Metric]:
        labels = ["pool_id", "replica_id"]
        ready = GaugeMetricFamily(
            "poolmgr_replica_ready",
            "1 when the replica passed health, props and the self-test decode, else 0.",
            labels=labels,
        )
        restarts = CounterMetricFamily(
            "poolmgr_replica_restarts",
            "Restarts performed by the supervisor after a crash or failed start.",
            labels=labels,
        )
        crashes = CounterMetricFamily(
            "poolmgr_replica_crashes", "Unexpected replica exits and start timeouts.", labels=labels
        )
        for status in self._supervisor.status():
            for replica in status.replicas:
                key = [status.pool_id, replica.replica_id]
                ready.add_metric(key, float(replica.ready))
                restarts.add_metric(key, float(replica.restarts))
                crashes.add_metric(key, float(replica.crashes))
        return (ready, restarts, crashes)

    def _gpus(self) -> Iterable[Metric]:
        inventory = self._supervisor.inventory
        count = GaugeMetricFamily("poolmgr_gpu_devices", "GPUs discovered on the host; 0 on a CPU-only host.")
        count.add_metric([], float(len(inventory.gpus)))
        util = GaugeMetricFamily(
            "poolmgr_gpu_utilization_ratio",
            "GPU utilisation from nvidia-smi (utilization.gpu / 100), 0 to 1.",
            labels=["gpu"],
        )
        used = GaugeMetricFamily("poolmgr_gpu_vram_used_bytes", "VRAM in use on the GPU.", labels=["gpu"])
        total = GaugeMetricFamily("poolmgr_gpu_vram_total_bytes", "Total VRAM of the GPU.", labels=["gpu"])
        for gpu in inventory.gpus:
            key = [str(gpu.index)]
            util.add_metric(key, min(1.0, max(0.0, gpu.utilization_pct / 100)))
            used.add_metric(key, float(gpu.memory_used_mb * _MIB))
            total.add_metric(key, float(gpu.memory_total_mb * _MIB))
        return (count, util, used, total)

    def _control_plane(self) -> Iterable[Metric]:
        heartbeats = CounterMetricFamily(
            "poolmgr_heartbeats",
            "Heartbeats sent to orchestratord by result (ok, not_found, error).",
            labels=["result"],
        )
        registrations = CounterMetricFamily(
            "poolmgr_registrations", "Registration attempts by result (ok, error).", labels=["result"]
        )
        state = self._registration()
        if state is not None:
            for result, n in state.heartbeats.items():
                heartbeats.add_metric([result], float(n))
            for result, n in state.registrations.items():
                registrations.add_metric([result], float(n))
        return (heartbeats, registrations)


def metrics_registry(
    supervisor: Supervisor, registration: Callable[[], RegistrationState | None]
) -> CollectorRegistry:
    """A registry of its own holding the node's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SupervisorCollector(supervisor, registration))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
