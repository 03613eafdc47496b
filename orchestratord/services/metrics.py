"""Prometheus metrics of orchestratord, named as in `.specs/metrics/otel-prom.md` (ORCH-8001, ORCH-8002).

One `DaemonMetrics` owns its own `CollectorRegistry`, built in wiring, so several apps (tests) never share
series. Services call the intent-named methods; label values come from bounded sets (pool ids, replica ids,
engines, priorities, reasons) as the cardinality budget requires.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class DaemonMetrics:
    """The daemon's metric families on a private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge(
            "orchd_queue_depth", "Tasks waiting in a pool queue", ["pool_id", "priority"], registry=r
        )
        self.tasks_enqueued = Counter(
            "orchd_tasks_enqueued_total", "Tasks admitted into a queue", ["pool_id", "priority"], registry=r
        )
        self.tasks_started = Counter(
            "orchd_tasks_started_total",
            "Tasks dispatched to a replica",
            ["pool_id", "replica_id"],
            registry=r,
        )
        self.tasks_canceled = Counter(
            "orchd_tasks_canceled_total", "Tasks canceled", ["pool_id", "reason"], registry=r
        )
        self.tasks_rejected = Counter(
            "orchd_tasks_rejected_total",
            "Tasks refused or ended with an error",
            ["pool_id", "reason"],
            registry=r,
        )
        self.first_token = Histogram(
            "orchd_first_token_latency_seconds",
            "Admission to first token",
            ["pool_id", "engine"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decode = Histogram(
            "orchd_decode_latency_seconds",
            "First token to end of decode",
            ["pool_id", "engine"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens_in = Counter("orchd_tokens_in_total", "Prompt tokens", ["pool_id", "engine"], registry=r)
        self.tokens_out = Counter(
            "orchd_tokens_out_total", "Generated tokens", ["pool_id", "engine"], registry=r
        )
        self.backpressure = Counter(
            "orchd_admission_backpressure_events_total",
            "429 answers",
            ["pool_id", "policy_label"],
            registry=r,
        )
        self.placement = Counter(
            "orchd_placement_decisions_total", "Placement outcomes", ["pool_id", "outcome"], registry=r
        )
        self.slots_total = Gauge("orchd_slots_total", "Slots per replica", ["replica_id"], registry=r)
        self.slots_busy = Gauge("orchd_slots_busy", "Leased slots per replica", ["replica_id"], registry=r)
        self.tenant_admitted = Counter(
            "orchd_admission_share_tasks_total", "Admitted tasks per tenant", ["tenant"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def task_enqueued(self, pool_id: str, priority: str, tenant: str) -> None:
        self.tasks_enqueued.labels(pool_id, priority).inc()
        self.tenant_admitted.labels(tenant).inc()

    def task_rejected(self, pool_id: str, reason: str) -> None:
        self.tasks_rejected.labels(pool_id, reason).inc()

    def backpressure_event(self, pool_id: str, policy_label: str) -> None:
        self.backpressure.labels(pool_id, policy_label).inc()

    def placement_decision(self, pool_id: str, outcome: str) -> None:
        self.placement.labels(pool_id, outcome).inc()

    def task_started(self, pool_id: str, replica_id: str, engine: str) -> None:
        self.tasks_started.labels(pool_id, replica_id).inc()

    def task_ended(self, pool_id: str, state: str, code: str | None) -> None:
        if state == "canceled":
            self.tasks_canceled.labels(pool_id, "client").inc()
        elif state == "failed" and code is not None:
            self.tasks_rejected.labels(pool_id, code).inc()

    def latencies(self, pool_id: str, engine: str, first_token_s: float | None, decode_s: float) -> None:
        if first_token_s is not None:
            self.first_token.labels(pool_id, engine).observe(first_token_s)
        self.decode.labels(pool_id, engine).observe(decode_s)

    def tokens(self, pool_id: str, engine: str, tokens_in: int, tokens_out: int) -> None:
        self.tokens_in.labels(pool_id, engine).inc(tokens_in)
        self.tokens_out.labels(pool_id, engine).inc(tokens_out)

    def set_queue_depth(self, pool_id: str, priority: str, depth: int) -> None:
        self.queue_depth.labels(pool_id, priority).set(depth)

    def set_slots(self, replica_id: str, total: int, busy: int) -> None:
        self.slots_total.labels(replica_id).set(total)
        self.slots_busy.labels(replica_id).set(busy)
