"""Dashboards and alert rules: they parse, name only spec metrics, and cover what operators need
(ORCH-8004, ORCH-8005, ORCH-8101, ORCH-8102)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.observability.support import REPO
from tools.metrics_lint.__main__ import lint_static
from tools.metrics_lint.references import (
    EXTERNAL_METRICS,
    check_queries,
    dashboard_queries,
    grafana_to_promql,
    referenced_metrics,
    rule_queries,
    selectors,
)
from tools.metrics_lint.spec import MetricsSpec

DASHBOARDS = REPO / "ci/dashboards"
ALERTS = REPO / "ci/alerts"
SPEC = REPO / ".specs/metrics/otel-prom.md"


def _dashboards() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(DASHBOARDS.glob("*.json"))]


def _panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in doc["panels"] if p["type"] != "row"]


def _alerts() -> dict[str, dict[str, Any]]:
    rules = {}
    for path in sorted(ALERTS.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules.update({rule["alert"]: rule for rule in group["rules"] if "alert" in rule})
    return rules


@pytest.mark.req("ORCH-8004", "ORCH-8005")
def test_dashboards_and_rules_lint_clean_against_the_spec(metrics_spec: MetricsSpec) -> None:
    problems = lint_static(metrics_spec, SPEC, DASHBOARDS, ALERTS)
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.req("ORCH-8101")
def test_dashboards_are_current_grafana_json_with_a_datasource_variable() -> None:
    found = _dashboards()
    assert len(found) >= 2
    uids = [doc["uid"] for _, doc in found]
    assert len(set(uids)) == len(uids)
    for path, doc in found:
        assert doc["schemaVersion"] >= 39, path
        variables = {v["name"]: v for v in doc["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [p["id"] for p in doc["panels"]]
        assert len(set(ids)) == len(ids), f"{path.name}: panel ids repeat"
        for panel in _panels(doc):
            assert panel["datasource"]["uid"] == "${datasource}", (path.name, panel["title"])
            assert panel["targets"], (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                assert set(panel["gridPos"]) == {"h", "w", "x", "y"}


@pytest.mark.req("ORCH-8101")
def test_dashboards_cover_every_view_operators_need() -> None:
    by_title = {p["title"]: p for _, doc in _dashboards() for p in _panels(doc)}
    exprs = {title: " ".join(t["expr"] for t in p["targets"]) for title, p in by_title.items()}
    needs = {
        "Queue depth by pool and priority": ["orchd_queue_depth", "pool_id, priority"],
        "Rejections by reason": ["orchd_tasks_rejected_total", "by (reason)"],
        "Admissions by pool and priority": ["orchd_tasks_enqueued_total"],
        "First-token latency by priority": [
            "histogram_quantile(0.95",
            "orchd_first_token_latency_seconds_bucket",
            "le, priority",
        ],
        "Decode latency by priority": [
            "histogram_quantile(0.95",
            "orchd_decode_latency_seconds_bucket",
            "le, priority",
        ],
        "Tokens per second in and out": ["rate(orchd_input_tokens_total", "rate(orchd_output_tokens_total"],
        "Per-tenant admission share": ["orchd_tenant_admissions_total", "group_left"],
        "Ready replicas by pool": ["orchd_replica_ready", "poolmgr_replica_ready"],
        "Replica restarts and crashes": ["poolmgr_replica_restarts_total"],
        "GPU utilisation (pool_managerd)": ["poolmgr_gpu_utilization_ratio"],
        "GPU utilisation (DCGM exporter)": ["DCGM_FI_DEV_GPU_UTIL"],
        "VRAM used (pool_managerd)": ["poolmgr_gpu_vram_used_bytes"],
        "VRAM used (DCGM exporter)": ["DCGM_FI_DEV_FB_USED"],
    }
    for title, fragments in needs.items():
        assert title in exprs, title
        for fragment in fragments:
            assert fragment in exprs[title], (title, fragment)


@pytest.mark.req("ORCH-8004")
def test_only_the_declared_external_dcgm_series_are_outside_the_spec(metrics_spec: MetricsSpec) -> None:
    queries = [q for p in sorted(DASHBOARDS.glob("*.json")) for q in dashboard_queries(p)]
    outside = referenced_metrics(queries) - set(metrics_spec.metrics)
    histogram_series = {n for n in outside if n.removesuffix("_bucket") in metrics_spec.metrics}
    assert outside - histogram_series <= set(EXTERNAL_METRICS)
    assert {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"} <= outside


@pytest.mark.req("ORCH-8004", "ORCH-8005")
@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (
            "orchd_queue_depth{",
            "orchd_queue_length{",
            "metric 'orchd_queue_length' is not in the metrics spec",
        ),
        (
            "sum by (pool_id, priority) (orchd_queue_depth{",
            'sum by (pool_id, priority) (orchd_queue_depth{tenant=\\"x\\",',
            "orchd_queue_depth has no label(s) ['tenant']",
        ),
        (
            "sum by (reason) (rate(orchd_tasks_rejected_total",
            "sum by (reason) (rate(orchd_tasks_rejected_total)",
            "does not parse",
        ),
    ],
)
def test_a_broken_panel_in_a_dashboard_copy_fails_the_lint(
    metrics_spec: MetricsSpec, tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    source = DASHBOARDS / "orchqueue-overview.json"
    text = source.read_text(encoding="utf-8")
    assert old in text
    copy = tmp_path / "dashboards"
    copy.mkdir()
    (copy / source.name).write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = lint_static(metrics_spec, SPEC, copy, ALERTS)
    assert any(complaint in p.message for p in problems), problems


@pytest.mark.req("ORCH-8004", "ORCH-8005")
def test_an_unknown_metric_in_an_alert_rule_copy_fails_the_lint(
    metrics_spec: MetricsSpec, tmp_path: Path
) -> None:
    copy = tmp_path / "alerts"
    shutil.copytree(ALERTS, copy)
    rules = copy / "orchqueue.yaml"
    rules.write_text(rules.read_text().replace("poolmgr_replica_restarts_total", "poolmgr_restarts_total"))
    problems = check_queries(metrics_spec, rule_queries(rules))
    assert [p.message for p in problems] == ["metric 'poolmgr_restarts_total' is not in the metrics spec"]


def _comparison(expr: str) -> tuple[str, float]:
    """The top-level comparison operator of an alert expression and its numeric threshold."""
    tree = promql_parser.parse(grafana_to_promql(expr))
    assert isinstance(tree, promql_parser.BinaryExpr), expr
    assert isinstance(tree.rhs, promql_parser.NumberLiteral), expr
    return str(tree.op), float(tree.rhs.val)


@pytest.mark.req("ORCH-8102")
@pytest.mark.parametrize(
    ("alert", "op", "threshold", "duration", "metrics"),
    [
        ("OrchQueueQueueSaturated", ">=", 0.9, "5m", {"orchd_queue_depth", "orchd_queue_capacity"}),
        (
            "OrchQueueRejectionRateHigh",
            ">",
            0.05,
            "5m",
            {"orchd_tasks_rejected_total", "orchd_tasks_enqueued_total"},
        ),
        ("OrchQueueInteractiveFirstTokenSlow", ">", 0.9, "10m", {"orchd_first_token_latency_seconds_bucket"}),
        ("OrchQueueEngineRestartStorm", ">", 3, None, {"poolmgr_replica_restarts_total"}),
        ("OrchQueueNodeHeartbeatLoss", ">=", 3, "1m", {"orchd_node_heartbeat_misses_total"}),
    ],
)
def test_alert_thresholds_and_durations_follow_the_spec(
    alert: str, op: str, threshold: float, duration: str | None, metrics: set[str]
) -> None:
    rule = _alerts()[alert]
    found_op, found_threshold = _comparison(rule["expr"])
    assert found_op == op, alert
    assert found_threshold == threshold
    assert rule.get("for") == duration
    names = {name for name, _ in selectors(rule["expr"]) if name}
    assert metrics <= names
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]


@pytest.mark.req("ORCH-8102")
def test_interactive_first_token_alert_reads_the_interactive_p95_over_the_restart_storm_window() -> None:
    rules = _alerts()
    first_token = rules["OrchQueueInteractiveFirstTokenSlow"]["expr"]
    assert "histogram_quantile(0.95" in first_token and 'priority="interactive"' in first_token
    assert "[10m]" in rules["OrchQueueEngineRestartStorm"]["expr"]
    assert 'reason=~"ADMISSION_REJECT|QUOTA_EXCEEDED"' in rules["OrchQueueRejectionRateHigh"]["expr"]


@pytest.mark.req("ORCH-8102")
def test_no_ready_replica_alert_fires_for_two_minutes_on_both_daemons_views() -> None:
    rule = _alerts()["OrchQueueNoReadyReplica"]
    assert rule["for"] == "2m"
    names = {name for name, _ in selectors(rule["expr"]) if name}
    assert {"orchd_replica_ready", "orchd_queue_capacity", "poolmgr_pool_ready"} <= names
