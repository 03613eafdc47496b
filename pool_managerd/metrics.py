"""pool_managerd's Prometheus metrics, read from the supervisor at scrape time (own registry, no globals).

Replica readiness, restarts and crashes, breaker state, and per-GPU utilisation and VRAM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pool_managerd.devices import DeviceInventory
from pool_managerd.status import PoolStatus

_MIB = 1 << 20


class SupervisorCollector(Collector):
    """Yields the node's metrics from fresh status snapshots on every scrape."""

    def __init__(
        self, pools: Callable[[], list[PoolStatus]], inventory: Callable[[], DeviceInventory]
    ) -> None:
        self._pools = pools
        self._inventory = inventory

    def collect(self) -> Iterable[Metric]:
        pools = self._pools()
        yield from _pool_metrics(pools)
        yield from _replica_metrics(pools)
        yield from _gpu_metrics(self._inventory())


def _pool_metrics(pools: list[PoolStatus]) -> Iterable[Metric]:
    ready = GaugeMetricFamily("poolmgr_pool_ready", "1 when the pool has a ready replica", labels=["pool_id"])
    draining = GaugeMetricFamily("poolmgr_pool_draining", "1 while the pool drains", labels=["pool_id"])
    breaker = GaugeMetricFamily(
        "poolmgr_breaker_open", "1 while the pool's crash circuit breaker is open", labels=["pool_id"]
    )
    for pool in pools:
        ready.add_metric([pool.pool_id], float(pool.ready))
        draining.add_metric([pool.pool_id], float(pool.draining))
        breaker.add_metric([pool.pool_id], float(pool.breaker_open))
    return (ready, draining, breaker)


def _replica_metrics(pools: list[PoolStatus]) -> Iterable[Metric]:
    labels = ["pool_id", "replica_id"]
    ready = GaugeMetricFamily("poolmgr_replica_ready", "1 when the replica passed readiness", labels=labels)
    restarts = CounterMetricFamily("poolmgr_replica_restarts", "Restarts after a crash", labels=labels)
    crashes = CounterMetricFamily("poolmgr_replica_crashes", "Replica exits nobody asked for", labels=labels)
    for pool in pools:
        for replica in pool.replicas:
            key = [pool.pool_id, replica.replica_id]
            ready.add_metric(key, float(replica.ready))
            restarts.add_metric(key, float(replica.restarts))
            crashes.add_metric(key, float(replica.crashes))
    return (ready, restarts, crashes)


def _gpu_metrics(inventory: DeviceInventory) -> Iterable[Metric]:
    util = GaugeMetricFamily("poolmgr_gpu_utilization_ratio", "GPU utilisation, 0..1", labels=["gpu"])
    used = GaugeMetricFamily("poolmgr_gpu_vram_used_bytes", "GPU memory in use", labels=["gpu"])
    total = GaugeMetricFamily("poolmgr_gpu_vram_total_bytes", "GPU memory", labels=["gpu"])
    for gpu in inventory.gpus:
        key = [str(gpu.index)]
        util.add_metric(key, gpu.utilization_pct / 100)
        used.add_metric(key, float(gpu.memory_used_mb * _MIB))
        total.add_metric(key, float(gpu.memory_total_mb * _MIB))
    return (util, used, total)


def metrics_registry(
    pools: Callable[[], list[PoolStatus]], inventory: Callable[[], DeviceInventory]
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SupervisorCollector(pools, inventory))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
