"""deploy/compose.yaml, checked structurally (ORCH-8104): `docker compose` is not installed on build hosts."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.config_schema.orchestratord import OrchestratordConfig
from contracts.config_schema.pool_managerd import PoolManagerdConfig
from tests.deploy.manifest_checks import DEPLOY, REPO, compose_problems, prometheus_targets

COMPOSE = DEPLOY / "compose.yaml"
Doc = dict[str, Any]


def _services() -> dict[str, dict[str, object]]:
    services: dict[str, dict[str, object]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


@pytest.mark.req("ORCH-8104")
def test_compose_defines_the_stack_with_gpu_reservations_and_health_gated_start_order() -> None:
    assert compose_problems(COMPOSE) == []


@pytest.mark.req("ORCH-8104")
def test_prometheus_scrapes_both_daemons_and_dcgm_at_their_compose_addresses() -> None:
    services = _services()
    assert prometheus_targets(DEPLOY / "prometheus/prometheus.yml") == {
        "orchestratord:8080",
        "pool-managerd:9200",
        "dcgm-exporter:9400",
    }
    prometheus_volumes = " ".join(map(str, services["prometheus"]["volumes"]))  # type: ignore[call-overload]
    assert "../ci/alerts:/etc/prometheus/rules" in prometheus_volumes


@pytest.mark.req("ORCH-8104", "ORCH-8101")
def test_grafana_is_provisioned_with_the_repository_dashboards() -> None:
    grafana_volumes = " ".join(map(str, _services()["grafana"]["volumes"]))  # type: ignore[call-overload]
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/orchqueue.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"../ci/dashboards:{path}" in grafana_volumes
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["type"] == "prometheus"
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert all(json.loads(p.read_text())["uid"] for p in (REPO / "ci/dashboards").glob("*.json"))


@pytest.mark.req("ORCH-8104", "ORCH-4009", "ORCH-6001")
def test_the_compose_configs_validate_against_the_config_schema() -> None:
    orchd = OrchestratordConfig.model_validate(
        yaml.safe_load((DEPLOY / "config/orchestratord.yaml").read_text())
    )
    assert orchd.bind.port == 8080
    poolmgr = yaml.safe_load((DEPLOY / "config/pool_managerd.yaml").read_text())
    poolmgr["node_token"] = "supplied-by-POOLMGR_NODE_TOKEN"
    config = PoolManagerdConfig.model_validate(poolmgr)
    assert config.bind.host == "pool-managerd"
    assert config.orchestratord_url == "http://orchestratord:8080"


def _probe_healthz(doc: Doc) -> None:
    test = doc["services"]["orchestratord"]["healthcheck"]["test"]
    test[-1] = test[-1].replace("/readyz", "/healthz")


def _start_without_waiting(doc: Doc) -> None:
    doc["services"]["orchestratord"]["depends_on"]["pool-managerd"]["condition"] = "service_started"


def _no_gpu(doc: Doc) -> None:
    del doc["services"]["pool-managerd"]["deploy"]


def _missing_file(doc: Doc) -> None:
    volumes = doc["services"]["prometheus"]["volumes"]
    volumes[0] = volumes[0].replace("prometheus.yml:", "prometheus.yaml:")


def _no_dcgm(doc: Doc) -> None:
    del doc["services"]["dcgm-exporter"]


def _start_before_redis(doc: Doc) -> None:
    del doc["services"]["orchestratord"]["depends_on"]["redis"]


@pytest.mark.req("ORCH-8104", "ORCH-4115")
@pytest.mark.parametrize(
    ("break_it", "complaint"),
    [
        (_probe_healthz, "orchestratord: the healthcheck must probe /readyz"),
        (_start_without_waiting, "orchestratord must wait for pool-managerd to be healthy"),
        (_no_gpu, "pool-managerd: no NVIDIA GPU reservation"),
        (_missing_file, "mounted path ./prometheus/prometheus.yaml does not exist"),
        (_no_dcgm, "missing service dcgm-exporter"),
        (_start_before_redis, "orchestratord must wait for redis to be healthy"),
    ],
)
def test_an_invalid_compose_copy_fails(
    tmp_path: Path, break_it: Callable[[Doc], None], complaint: str
) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("k8s", "systemd"))
    doc = yaml.safe_load(COMPOSE.read_text())
    break_it(doc)
    (copy / "compose.yaml").write_text(yaml.safe_dump(doc))
    problems = compose_problems(copy / "compose.yaml")
    assert any(complaint in p for p in problems), problems
