"""deploy/k8s validates with kubernetes-validate against the pinned Kubernetes version (ORCH-8105)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from contracts.config_schema.orchestratord import OrchestratordConfig
from contracts.config_schema.pool_managerd import PoolManagerdConfig
from tests.deploy.manifest_checks import DEPLOY, k8s_documents, k8s_requirements, validate_k8s

K8S = DEPLOY / "k8s"


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    return copy


def _problems(directory: Path) -> list[str]:
    documents = k8s_documents(directory)
    return validate_k8s(documents) + k8s_requirements(documents)


@pytest.mark.req("ORCH-8105", "ORCH-4115")
def test_the_manifests_validate_and_meet_the_deployment_requirements() -> None:
    documents = k8s_documents(K8S)
    kinds = sorted(doc["kind"] for _, doc in documents)
    assert kinds.count("Service") == 3 and "DaemonSet" in kinds and "ServiceMonitor" in kinds
    assert "StatefulSet" in kinds and "PodDisruptionBudget" in kinds
    assert _problems(K8S) == []


@pytest.mark.req("ORCH-8105", "ORCH-4009", "ORCH-6001")
def test_the_daemons_configs_in_the_configmaps_and_secret_validate_against_the_config_schema() -> None:
    by_name = {doc["metadata"]["name"]: doc for _, doc in k8s_documents(K8S) if "metadata" in doc}
    orchd = yaml.safe_load(by_name["orchestratord-config"]["data"]["orchestratord.yaml"])
    orchd.update(yaml.safe_load(by_name["orchestratord-credentials"]["stringData"]["credentials.yaml"]))
    config = OrchestratordConfig.model_validate(orchd)
    assert config.api_keys and config.node_tokens
    poolmgr = yaml.safe_load(
        by_name["pool-managerd-config"]["data"]["pool_managerd.yaml"].replace("__POD_IP__", "10.1.2.3")
    )
    poolmgr["node_token"] = by_name["pool-managerd-node-token"]["stringData"]["node-token"]
    assert PoolManagerdConfig.model_validate(poolmgr).pools[0].devices == [0]


@pytest.mark.req("ORCH-8105", "ORCH-4115")
@pytest.mark.parametrize(
    ("file", "old", "new", "complaint"),
    [
        ("orchestratord-deployment.yaml", "replicas: 3", 'replicas: "three"', "Deployment"),
        ("orchestratord-deployment.yaml", "replicas: 3", "replicas: 1", "at least 3 replicas"),
        ("orchestratord-deployment.yaml", "maxUnavailable: 0", "maxUnavailable: 1", "maxUnavailable 0"),
        (
            "orchestratord-pdb.yaml",
            "    matchLabels:\n      app.kubernetes.io/name: orchestratord",
            "    matchLabels:\n      app.kubernetes.io/name: other",
            "PodDisruptionBudget must cover",
        ),
        ("orchestratord-configmap.yaml", "backend: redis", "backend: memory", "state.backend: redis"),
        ("redis-statefulset.yaml", "name: redis\n", "name: cache\n", "redis StatefulSet"),
        (
            "orchestratord-service.yaml",
            "targetPort: http",
            "targetPort: http\n      nodePortz: 30080",
            "Service",
        ),
        (
            "pool-managerd-daemonset.yaml",
            "              nvidia.com/gpu: 1\n",
            "",
            "requests no nvidia.com/gpu",
        ),
        (
            "pool-managerd-daemonset.yaml",
            'nvidia.com/gpu.present: "true"',
            'gpu: "yes"',
            "must select GPU nodes",
        ),
        (
            "orchestratord-secret.yaml",
            '"1111111111111111111111111111111111111111111111111111111111111111"',
            "plain-key",
            "not a SHA-256",
        ),
        ("servicemonitor.yaml", "    - port: http", "    - portNumber: 8080", "ServiceMonitor"),
        ("pool-managerd-service.yaml", "app.kubernetes.io/part-of: orchqueue", "team: x", "not both daemons"),
        ("kustomization.yaml", "servicemonitor.yaml", "service-monitor.yaml", "does not exist"),
    ],
)
def test_an_invalid_manifest_copy_fails(
    tmp_path: Path, file: str, old: str, new: str, complaint: str
) -> None:
    copy = _copy(tmp_path)
    text = (copy / file).read_text(encoding="utf-8")
    assert old in text
    (copy / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = _problems(copy)
    assert any(complaint in p for p in problems), problems
