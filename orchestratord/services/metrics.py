"""Prometheus metrics of orchestratord, exactly as `.specs/metrics/otel-prom.md` defines them (ORCH-8001).

One `DaemonMetrics` owns its own `CollectorRegistry`, built in wiring, so two apps (tests) never share
series. Services call intent-named methods; label values pass through budgets that map anything beyond the
documented set to `_other`.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import disable_created_metrics as _disable_created_metrics

from orchestrator_core.errors import error_classes
from orchestrator_core.placement import NoCapacityReason

OTHER = "_other"
NO_POOL = "_none"
VERSION = "0.1.0"

QUEUE_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FIRST_TOKEN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1, 2.5, 5, 10, 30, 60, 120)
DECODE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
REASONS = frozenset(error_classes()) | {"METHOD_NOT_ALLOWED"}
ENGINES = frozenset({"llamacpp", "vllm", "tgi", "triton"})
OUTCOMES = frozenset({"assigned", "busy", "unready", "unavailable"})
# The `outcome` label of a placement that assigned no replica.
PLACEMENT_OUTCOMES = {
    NoCapacityReason.BUSY: "busy",
    NoCapacityReason.POOL_UNREADY: "unready",
    NoCapacityReason.POOL_UNAVAILABLE: "unavailable",
    NoCapacityReason.REPLICA_EXHAUSTED: "unavailable",
}
POLICY_LABELS = frozenset({"reject", "drop-lru", "shed-low-priority", "quota"})
PRIORITIES = frozenset({"interactive", "batch"})


class LabelBudget:
    """The first `limit` distinct values (or a fixed set) keep their name; the rest become `_other`."""

    def __init__(self, limit: int, allowed: Iterable[str] | None = None, extra: Iterable[str] = ()) -> None:
        self._limit = limit
        self._fixed = frozenset(allowed) if allowed is not None else None
        self._seen: set[str] = set(extra)

    def __call__(self, value: str) -> str:
        if self._fixed is not None:
            return value if value in self._fixed or value in self._seen else OTHER
        if value in self._seen:
            return value
        if len(self._seen) < self._limit:
            self._seen.add(value)
            return value
        return OTHER


class DaemonMetrics:
    """The daemon's metric families on a private registry."""

    def __init__(self, tenants: Iterable[str] = (), *, api_version: str = "1.0.0") -> None:
        _disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = r = CollectorRegistry()
        self._pool = LabelBudget(64, extra=(NO_POOL,))
        self._replica = LabelBudget(256)
        named = sorted(set(tenants))[:99]
        self._tenant = LabelBudget(0, allowed=named or ["anonymous"])
        self._anonymous = not named
        self._node = LabelBudget(64)
        self._route = LabelBudget(40)
        pool_pri = ["pool_id", "priority"]
        self.queue_depth = Gauge(
            "orchd_queue_depth", "Tasks waiting in the pool's queue, by priority class.", pool_pri, registry=r
        )
        self.queue_capacity = Gauge(
            "orchd_queue_capacity", "Configured capacity of the pool's queue.", ["pool_id"], registry=r
        )
        self.tasks_running = Gauge(
            "orchd_tasks_running",
            "Tasks holding a slot lease on a replica of the pool.",
            ["pool_id"],
            registry=r,
        )
        self.enqueued = Counter(
            "orchd_tasks_enqueued_total",
            "Tasks admitted into the pool's queue (202 answers; idempotent replays not counted).",
            pool_pri,
            registry=r,
        )
        self.started = Counter(
            "orchd_tasks_started_total",
            "Tasks dispatched to a replica (slot leased); a re-queued task counts again.",
            pool_pri,
            registry=r,
        )
        self.canceled = Counter(
            "orchd_tasks_canceled_total",
            "Tasks that ended canceled (client cancel, disconnect, session delete).",
            pool_pri,
            registry=r,
        )
        self.rejected = Counter(
            "orchd_tasks_rejected_total",
            "Task submissions refused at admission, by error code (pool_id _none when no pool was resolved).",
            ["pool_id", "reason"],
            registry=r,
        )
        self.succeeded = Counter(
            "orchd_tasks_succeeded_total",
            "Tasks that ended with an end event other than canceled.",
            pool_pri,
            registry=r,
        )
        self.failed = Counter(
            "orchd_tasks_failed_total",
            "Admitted tasks that ended with an error, by error code.",
            ["pool_id", "priority", "reason"],
            registry=r,
        )
        self.requeued = Counter(
            "orchd_tasks_requeued_total",
            "Tasks re-queued at the head after a replica failed before the first token.",
            ["pool_id"],
            registry=r,
        )
        self.backpressure = Counter(
            "orchd_admission_backpressure_events_total",
            "Backpressure events: 429 refusals and queue evictions, by policy label.",
            ["pool_id", "policy_label"],
            registry=r,
        )
        self.tenant_admissions = Counter(
            "orchd_tenant_admissions_total",
            "Tasks admitted per tenant; the admission share is this rate over the sum for all tenants.",
            ["tenant", "priority"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "orchd_queue_wait_seconds",
            "Time from admission to dispatch (slot leased).",
            pool_pri,
            buckets=QUEUE_WAIT_BUCKETS,
            registry=r,
        )
        self.first_token = Histogram(
            "orchd_first_token_latency_seconds",
            "Time from admission to the first token event written to the task's transcript.",
            pool_pri,
            buckets=FIRST_TOKEN_BUCKETS,
            registry=r,
        )
        self.decode = Histogram(
            "orchd_decode_latency_seconds",
            "Time from the first token to the last token of a task that produced tokens.",
            pool_pri,
            buckets=DECODE_BUCKETS,
            registry=r,
        )
        self.input_tokens = Counter(
            "orchd_input_tokens_total",
            "Prompt tokens reported by engines for finished tasks.",
            ["pool_id", "engine"],
            registry=r,
        )
        self.output_tokens = Counter(
            "orchd_output_tokens_total",
            "Generated tokens relayed to clients.",
            ["pool_id", "engine"],
            registry=r,
        )
        self.placement = Counter(
            "orchd_placement_decisions_total",
            "Placement decisions by outcome (assigned, busy, unready, unavailable).",
            ["pool_id", "outcome"],
            registry=r,
        )
        replica_labels = ["pool_id", "replica_id"]
        self.replica_slots = Gauge(
            "orchd_replica_slots",
            "Slots (concurrent generations) of a registered replica.",
            replica_labels,
            registry=r,
        )
        self.replica_slots_free = Gauge(
            "orchd_replica_slots_free",
            "Slots of a registered replica not held by a lease.",
            replica_labels,
            registry=r,
        )
        self.replica_ready = Gauge(
            "orchd_replica_ready",
            "1 when the replica is ready for placement, else 0.",
            replica_labels,
            registry=r,
        )
        self.sessions_active = Gauge(
            "orchd_sessions_active", "Sessions that have not expired or been deleted.", registry=r
        )
        self.nodes_registered = Gauge(
            "orchd_nodes_registered", "Nodes registered with a lease that has not expired.", registry=r
        )
        self.heartbeat_misses = Counter(
            "orchd_node_heartbeat_misses_total",
            "Heartbeat intervals that elapsed without a heartbeat from a registered node.",
            ["node_id"],
            registry=r,
        )
        self.node_registrations = Counter(
            "orchd_node_registrations_total",
            "Successful node registrations, including re-registrations.",
            ["node_id"],
            registry=r,
        )
        self.sse_streams = Gauge(
            "orchd_sse_streams_active",
            "Open SSE connections (task streams and OpenAI facade streams).",
            registry=r,
        )
        self.transcript_bytes = Gauge(
            "orchd_transcript_retained_bytes",
            "Bytes held by the transcripts of finished tasks kept for late and resuming readers.",
            registry=r,
        )
        self.transcripts_evicted = Counter(
            "orchd_transcripts_evicted_total",
            "Finished transcripts dropped before their retention ended to stay within the byte budget.",
            registry=r,
        )
        self.http_requests = Counter(
            "orchd_http_requests_total",
            "HTTP requests answered, by route template and status code.",
            ["route", "code"],
            registry=r,
        )
        self.build_info = Gauge(
            "orchd_build_info",
            "Always 1; labels give the orchestratord version and the data contract version.",
            ["version", "api_version"],
            registry=r,
        )
        self.build_info.labels(VERSION, api_version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- label budgets ---

    def pool(self, pool_id: str | None) -> str:
        return NO_POOL if pool_id is None else self._pool(pool_id)

    def tenant(self, tenant: str) -> str:
        return "anonymous" if self._anonymous else self._tenant(tenant)

    @staticmethod
    def _in(value: str | None, allowed: frozenset[str]) -> str:
        return value if value is not None and value in allowed else OTHER

    # --- task events ---

    def task_enqueued(self, pool_id: str, priority: str, tenant: str) -> None:
        self.enqueued.labels(self.pool(pool_id), self._in(priority, PRIORITIES)).inc()
        self.tenant_admissions.labels(self.tenant(tenant), self._in(priority, PRIORITIES)).inc()

    def task_rejected(self, pool_id: str | None, code: str) -> None:
        self.rejected.labels(self.pool(pool_id), self._in(code, REASONS)).inc()

    def backpressure_event(self, pool_id: str | None, policy_label: str) -> None:
        self.backpressure.labels(self.pool(pool_id), self._in(policy_label, POLICY_LABELS)).inc()

    def placement_decision(self, pool_id: str | None, outcome: str) -> None:
        self.placement.labels(self.pool(pool_id), self._in(outcome, OUTCOMES)).inc()

    def task_started(self, pool_id: str, priority: str, queue_wait_s: float) -> None:
        labels = (self.pool(pool_id), self._in(priority, PRIORITIES))
        self.started.labels(*labels).inc()
        self.queue_wait.labels(*labels).observe(max(queue_wait_s, 0.0))

    def task_requeued(self, pool_id: str) -> None:
        self.requeued.labels(self.pool(pool_id)).inc()

    def task_ended(self, pool_id: str, priority: str, state: str, code: str | None) -> None:
        labels = (self.pool(pool_id), self._in(priority, PRIORITIES))
        if state == "canceled":
            self.canceled.labels(*labels).inc()
        elif state == "succeeded":
            self.succeeded.labels(*labels).inc()
        elif state == "failed":
            self.failed.labels(*labels, self._in(code, REASONS)).inc()

    def latencies(
        self, pool_id: str, priority: str, first_token_s: float | None, decode_s: float | None
    ) -> None:
        labels = (self.pool(pool_id), self._in(priority, PRIORITIES))
        if first_token_s is not None:
            self.first_token.labels(*labels).observe(max(first_token_s, 0.0))
        if decode_s is not None:
            self.decode.labels(*labels).observe(max(decode_s, 0.0))

    def tokens(self, pool_id: str, engine: str, tokens_in: int, tokens_out: int) -> None:
        labels = (self.pool(pool_id), self._in(engine, ENGINES))
        self.input_tokens.labels(*labels).inc(tokens_in)
        self.output_tokens.labels(*labels).inc(tokens_out)

    # --- gauges set at scrape time ---

    def set_queue(self, pool_id: str, capacity: int, depth_by_priority: dict[str, int]) -> None:
        pool = self.pool(pool_id)
        self.queue_capacity.labels(pool).set(capacity)
        for priority, depth in depth_by_priority.items():
            self.queue_depth.labels(pool, self._in(priority, PRIORITIES)).set(depth)

    def set_running(self, pool_id: str, running: int) -> None:
        self.tasks_running.labels(self.pool(pool_id)).set(running)

    def set_replica(self, pool_id: str, replica_id: str, slots: int, free: int, ready: bool) -> None:
        labels = (self.pool(pool_id), self._replica(replica_id))
        self.replica_slots.labels(*labels).set(slots)
        self.replica_slots_free.labels(*labels).set(free)
        self.replica_ready.labels(*labels).set(1 if ready else 0)

    def forget_replica(self, pool_id: str, replica_id: str) -> None:
        labels = (self.pool(pool_id), self._replica(replica_id))
        for gauge in (self.replica_slots, self.replica_slots_free, self.replica_ready):
            try:
                gauge.remove(*labels)
            except KeyError:
                pass

    def stream_opened(self) -> None:
        self.sse_streams.inc()

    def stream_closed(self) -> None:
        self.sse_streams.dec()

    def set_retained_transcript_bytes(self, retained: int) -> None:
        self.transcript_bytes.set(retained)

    def transcript_evicted(self) -> None:
        self.transcripts_evicted.inc()

    def http_request(self, route: str, status: int) -> None:
        code = str(status) if 100 <= status <= 599 else OTHER
        self.http_requests.labels(self._route(route), code).inc()

    # --- nodes (control plane) ---

    def node_registered(self, node_id: str) -> None:
        self.node_registrations.labels(self._node(node_id)).inc()

    def node_heartbeat_missed(self, node_id: str) -> None:
        self.heartbeat_misses.labels(self._node(node_id)).inc()

    def set_nodes(self, registered: int) -> None:
        self.nodes_registered.set(registered)
