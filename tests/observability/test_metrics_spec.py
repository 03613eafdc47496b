"""The metrics spec itself: its tables parse and its names follow its own rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator_core.errors import InvalidParams
from tests.observability.support import SPEC_PATH
from tools.metrics_lint.exposition import check_spec_rules
from tools.metrics_lint.spec import MetricsSpec, parse_metrics_spec


@pytest.mark.req("ORCH-8001")
def test_spec_tables_define_both_daemons_and_every_label_budget(metrics_spec: MetricsSpec) -> None:
    assert len(metrics_spec.for_daemon("orchestratord")) == 30
    assert len(metrics_spec.for_daemon("pool_managerd")) == 16
    first_token = metrics_spec.metrics["orchd_first_token_latency_seconds"]
    assert first_token.type == "histogram"
    assert first_token.labels == ("pool_id", "priority")
    assert 0.9 in first_token.buckets
    assert metrics_spec.budgets["priority"].values == frozenset({"interactive", "batch"})
    assert metrics_spec.budgets["reason"].budget == 19


@pytest.mark.req("ORCH-8001")
def test_spec_names_follow_its_naming_rules(metrics_spec: MetricsSpec) -> None:
    assert check_spec_rules(metrics_spec, str(SPEC_PATH)) == []


@pytest.mark.req("ORCH-8001", "ORCH-8005")
@pytest.mark.parametrize(
    ("before", "after", "complaint"),
    [
        ("| orchd_queue_wait_seconds |", "| orchd_queue_wait |", "needs _seconds"),
        ("| orchd_tasks_running | gauge |", "| orchd_tasks_running_total | gauge |", "only counters"),
        (
            "| orchd_tasks_requeued_total | counter | pool_id |",
            "| orchd_tasks_requeued_total | counter | pool |",
            "budget",
        ),
        ("| poolmgr_drains_total |", "| orchd_drains_total |", "start with poolmgr_"),
    ],
)
def test_a_spec_that_breaks_its_rules_is_reported(
    tmp_path: Path, before: str, after: str, complaint: str
) -> None:
    text = SPEC_PATH.read_text(encoding="utf-8")
    assert before in text
    broken = tmp_path / "otel-prom.md"
    broken.write_text(text.replace(before, after, 1), encoding="utf-8")
    problems = check_spec_rules(parse_metrics_spec(broken), str(broken))
    assert any(complaint in p.message for p in problems), problems


@pytest.mark.req("ORCH-8005")
def test_a_malformed_metric_row_is_an_error_naming_the_line(tmp_path: Path) -> None:
    text = SPEC_PATH.read_text(encoding="utf-8").replace(
        "| orchd_queue_depth | gauge |", "| orchd_queue_depth | gaug |"
    )
    broken = tmp_path / "otel-prom.md"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidParams, match=r"otel-prom.md:\d+: type 'gaug'"):
        parse_metrics_spec(broken)
