"""Both daemons, scraped under a short load, expose exactly the spec's metrics (ORCH-8001, 8002, 8005)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.observability.support import SPEC_PATH, LoadRun
from tools.metrics_lint.exposition import check_exposition, families_with_samples
from tools.metrics_lint.panel_data import counter_total
from tools.metrics_lint.spec import MetricsSpec, parse_metrics_spec

DAEMONS = ("orchestratord", "pool_managerd")
# Families the load necessarily produces samples for (labelled families may otherwise stay empty).
EXERCISED = {
    "orchestratord": {
        "orchd_queue_depth",
        "orchd_queue_capacity",
        "orchd_tasks_running",
        "orchd_tasks_enqueued_total",
        "orchd_tasks_started_total",
        "orchd_tasks_canceled_total",
        "orchd_tasks_rejected_total",
        "orchd_tasks_succeeded_total",
        "orchd_tasks_failed_total",
        "orchd_tasks_requeued_total",
        "orchd_admission_backpressure_events_total",
        "orchd_tenant_admissions_total",
        "orchd_queue_wait_seconds",
        "orchd_first_token_latency_seconds",
        "orchd_decode_latency_seconds",
        "orchd_input_tokens_total",
        "orchd_output_tokens_total",
        "orchd_placement_decisions_total",
        "orchd_replica_slots",
        "orchd_replica_slots_free",
        "orchd_replica_ready",
        "orchd_node_registrations_total",
        "orchd_http_requests_total",
        "orchd_build_info",
    },
    "pool_managerd": {
        "poolmgr_replica_ready",
        "poolmgr_replica_restarts_total",
        "poolmgr_pool_ready",
        "poolmgr_model_load_seconds",
        "poolmgr_heartbeats_total",
        "poolmgr_registrations_total",
        "poolmgr_build_info",
    },
}


@pytest.mark.req("ORCH-8001", "ORCH-8002", "ORCH-8005", "ORCH-1070")
@pytest.mark.parametrize("daemon", DAEMONS)
def test_every_scrape_of_the_load_run_complies_with_the_spec(
    metrics_spec: MetricsSpec, load_run: LoadRun, daemon: str
) -> None:
    files = sorted(load_run.scrapes.glob(f"{daemon}-*.prom"))
    assert len(files) >= 5, "the load run scraped too rarely"
    problems = [p for f in files for p in check_exposition(metrics_spec, daemon, f.read_text(), f.name)]
    assert problems == [], "\n".join(map(str, problems[:30]))


@pytest.mark.req("ORCH-8001", "ORCH-8005")
@pytest.mark.parametrize("daemon", DAEMONS)
def test_the_load_produces_samples_for_the_families_it_exercises(load_run: LoadRun, daemon: str) -> None:
    missing = EXERCISED[daemon] - families_with_samples(load_run.scrape(daemon, -1))
    assert missing == set()


@pytest.mark.req("ORCH-8001")
def test_task_counters_agree_with_what_the_load_did(load_run: LoadRun) -> None:
    text = load_run.scrape("orchestratord", -1)
    report = load_run.report
    openai_requests = 1
    admitted = sum(report.admitted.values()) + openai_requests
    assert counter_total(text, "orchd_tasks_enqueued_total") == admitted
    assert counter_total(text, "orchd_tenant_admissions_total") == admitted
    rejected = counter_total(text, "orchd_tasks_rejected_total", reason="ADMISSION_REJECT")
    assert rejected == report.refused["ADMISSION_REJECT"] > 0
    assert counter_total(text, "orchd_tasks_rejected_total", pool_id="_none", reason="POOL_UNAVAILABLE") == 1
    assert counter_total(text, "orchd_admission_backpressure_events_total", policy_label="reject") == rejected
    ended = sum(
        counter_total(text, name)
        for name in ("orchd_tasks_succeeded_total", "orchd_tasks_failed_total", "orchd_tasks_canceled_total")
    )
    # The run ends drained: every admitted task reached exactly one terminal outcome.
    assert ended == admitted
    assert counter_total(text, "orchd_queue_depth") == 0
    assert counter_total(text, "orchd_tasks_running") == 0


@pytest.mark.req("ORCH-8005")
def test_a_renamed_metric_in_a_scrape_fails_the_lint(metrics_spec: MetricsSpec, load_run: LoadRun) -> None:
    text = load_run.scrape("orchestratord", -1).replace("orchd_queue_depth", "orchd_queue_length")
    messages = [p.message for p in check_exposition(metrics_spec, "orchestratord", text, "renamed")]
    assert "family 'orchd_queue_length' (gauge) is not in the metrics spec for this daemon" in messages
    assert any(
        m.startswith("orchd_queue_depth: a spec family that the daemon does not emit") for m in messages
    )


@pytest.mark.req("ORCH-8005")
def test_a_metric_renamed_in_the_spec_fails_against_the_live_scrape(
    load_run: LoadRun, tmp_path: Path
) -> None:
    renamed = tmp_path / "otel-prom.md"
    text = SPEC_PATH.read_text(encoding="utf-8")
    renamed.write_text(
        text.replace("| poolmgr_pool_draining |", "| poolmgr_pool_drain_state |"), encoding="utf-8"
    )
    problems = check_exposition(
        parse_metrics_spec(renamed), "pool_managerd", load_run.scrape("pool_managerd", -1), "s"
    )
    messages = [p.message for p in problems]
    assert any("'poolmgr_pool_draining' (gauge) is not in the metrics spec" in m for m in messages)
    assert any(m.startswith("poolmgr_pool_drain_state: a spec family") for m in messages)
