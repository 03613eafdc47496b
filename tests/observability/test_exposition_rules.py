"""The scrape lint on hand-written expositions: each broken rule is reported.

The texts are small pool_managerd scrapes written here, so the expectation never comes from the code
under test; `_VALID` is a complete, compliant scrape that each case breaks in one way.
"""

from __future__ import annotations

import pytest

from tools.metrics_lint.exposition import check_exposition
from tools.metrics_lint.spec import MetricsSpec

_LOAD_BUCKETS = ("0.5", "1.0", "2.0", "5.0", "10.0", "30.0", "60.0", "120.0", "300.0", "600.0", "+Inf")


def _family(name: str, kind: str, help_text: str, samples: list[str]) -> str:
    return "\n".join([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples])


def _valid() -> str:
    load = [
        f'poolmgr_model_load_seconds_bucket{{engine="llamacpp",le="{le}",pool_id="p"}} 1.0'
        for le in _LOAD_BUCKETS
    ]
    load += [
        'poolmgr_model_load_seconds_sum{engine="llamacpp",pool_id="p"} 0.7',
        'poolmgr_model_load_seconds_count{engine="llamacpp",pool_id="p"} 1.0',
    ]
    parts = [
        _family(
            "poolmgr_replica_ready",
            "gauge",
            "1 when the replica passed health, props and the self-test decode, else 0.",
            ['poolmgr_replica_ready{pool_id="p",replica_id="p-r0"} 1.0'],
        ),
        _family(
            "poolmgr_replica_restarts_total",
            "counter",
            "Restarts performed by the supervisor after a crash or failed start.",
            [],
        ),
        _family(
            "poolmgr_replica_crashes_total", "counter", "Unexpected replica exits and start timeouts.", []
        ),
        _family(
            "poolmgr_circuit_breaker_open", "gauge", "1 while the pool's circuit breaker is open, else 0.", []
        ),
        _family(
            "poolmgr_pool_ready",
            "gauge",
            "1 when at least one replica of the pool is ready and the breaker is closed, else 0.",
            [],
        ),
        _family("poolmgr_pool_draining", "gauge", "1 while the pool drains, else 0.", []),
        _family(
            "poolmgr_model_load_seconds",
            "histogram",
            "Time from spawning a replica to it becoming ready.",
            load,
        ),
        _family("poolmgr_reloads_total", "counter", "Reload requests by result (ok, conflict).", []),
        _family("poolmgr_drains_total", "counter", "Drains started.", []),
        _family(
            "poolmgr_gpu_devices",
            "gauge",
            "GPUs discovered on the host; 0 on a CPU-only host.",
            ["poolmgr_gpu_devices 0.0"],
        ),
        _family(
            "poolmgr_gpu_utilization_ratio",
            "gauge",
            "GPU utilisation from nvidia-smi (utilization.gpu / 100), 0 to 1.",
            [],
        ),
        _family("poolmgr_gpu_vram_used_bytes", "gauge", "VRAM in use on the GPU.", []),
        _family("poolmgr_gpu_vram_total_bytes", "gauge", "Total VRAM of the GPU.", []),
        _family(
            "poolmgr_heartbeats_total",
            "counter",
            "Heartbeats sent to orchestratord by result (ok, not_found, error).",
            ['poolmgr_heartbeats_total{result="ok"} 3.0'],
        ),
        _family("poolmgr_registrations_total", "counter", "Registration attempts by result (ok, error).", []),
        _family(
            "poolmgr_build_info",
            "gauge",
            "Always 1; the label gives the pool_managerd version.",
            ['poolmgr_build_info{version="0.1.0"} 1.0'],
        ),
        _family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            ["process_cpu_seconds_total 1.5"],
        ),
    ]
    return "\n".join(parts) + "\n"


def _problems(spec: MetricsSpec, text: str) -> list[str]:
    return [p.message for p in check_exposition(spec, "pool_managerd", text, "scrape")]


@pytest.mark.req("ORCH-8001")
def test_a_complete_scrape_with_empty_labelled_families_passes(metrics_spec: MetricsSpec) -> None:
    assert _problems(metrics_spec, _valid()) == []


@pytest.mark.req("ORCH-8001", "ORCH-8005")
@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("poolmgr_pool_draining", "poolmgr_pool_drain", "not in the metrics spec"),
        (
            "poolmgr_pool_draining",
            "poolmgr_pool_drain",
            "poolmgr_pool_draining: a spec family that the daemon does not emit",
        ),
        (
            "# TYPE poolmgr_gpu_devices gauge",
            "# TYPE poolmgr_gpu_devices counter",
            "type counter, the spec says gauge",
        ),
        (
            "# HELP poolmgr_drains_total Drains started.",
            "# HELP poolmgr_drains_total Drains begun.",
            "HELP 'Drains begun.'",
        ),
        (
            'poolmgr_replica_ready{pool_id="p",replica_id="p-r0"}',
            'poolmgr_replica_ready{pool="p",replica_id="p-r0"}',
            "labels ['pool', 'replica_id']",
        ),
        ('le="600.0"', 'le="900.0"', "buckets"),
        ("poolmgr_gpu_devices 0.0", "", "must have a sample from the first scrape"),
        (
            'poolmgr_heartbeats_total{result="ok"} 3.0',
            'poolmgr_heartbeats_total{result="ok"} 3.0\npoolmgr_heartbeats_created{result="ok"} 1.7e9',
            "_created",
        ),
        ("poolmgr_gpu_devices 0.0", "poolmgr_gpu_devices 0.0\npoolmgr_stray_value 1.0", "no # TYPE line"),
        ('result="ok"', 'result="timeout"', "undocumented values ['timeout']"),
    ],
)
def test_each_broken_rule_is_reported(metrics_spec: MetricsSpec, old: str, new: str, complaint: str) -> None:
    text = _valid()
    assert old in text
    problems = _problems(metrics_spec, text.replace(old, new))
    assert any(complaint in p for p in problems), problems


@pytest.mark.req("ORCH-8002")
def test_a_label_over_its_budget_is_reported(metrics_spec: MetricsSpec) -> None:
    # gpu has a budget of 16 values.
    samples = [f'poolmgr_gpu_vram_used_bytes{{gpu="{n}"}} 1.0' for n in range(17)]
    text = _valid().replace(
        "# TYPE poolmgr_gpu_vram_used_bytes gauge",
        "# TYPE poolmgr_gpu_vram_used_bytes gauge\n" + "\n".join(samples),
    )
    assert any("label 'gpu': 17 distinct values, budget 16" in p for p in _problems(metrics_spec, text))


@pytest.mark.req("ORCH-8002")
def test_a_pool_id_outside_the_id_pattern_is_reported(metrics_spec: MetricsSpec) -> None:
    text = _valid().replace('pool_id="p",replica_id', 'pool_id="-bad id",replica_id', 1)
    assert any("label 'pool_id': undocumented values ['-bad id']" in p for p in _problems(metrics_spec, text))


@pytest.mark.req("ORCH-8005")
def test_text_that_is_not_prometheus_exposition_is_reported(metrics_spec: MetricsSpec) -> None:
    assert any("not valid Prometheus text" in p for p in _problems(metrics_spec, "poolmgr_gpu_devices{ 1\n"))
