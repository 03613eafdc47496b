"""Checks of the deployment files, returning problems as text so tests can also prove they fail."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# The Kubernetes version the manifests target; kubernetes-validate ships its (strict) schemas.
KUBERNETES_VERSION = "1.33.0"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
Doc = dict[str, Any]


def k8s_documents(directory: Path) -> list[tuple[Path, Doc]]:
    return [
        (path, doc)
        for path in sorted(directory.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def _service_monitor(doc: Doc) -> list[str]:
    """The ServiceMonitor CRD's required structure (monitoring.coreos.com/v1)."""
    problems = []
    spec = doc.get("spec")
    if doc.get("apiVersion") != "monitoring.coreos.com/v1" or not isinstance(spec, dict):
        return ["ServiceMonitor: apiVersion monitoring.coreos.com/v1 with a spec is required"]
    if not isinstance(spec.get("selector", {}).get("matchLabels"), dict):
        problems.append("ServiceMonitor: spec.selector.matchLabels is required")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        return [*problems, "ServiceMonitor: spec.endpoints must list at least one endpoint"]
    allowed = {"port", "path", "interval", "scheme", "scrapeTimeout", "honorLabels", "bearerTokenSecret"}
    for endpoint in endpoints:
        if not isinstance(endpoint.get("port"), str):
            problems.append("ServiceMonitor: every endpoint names a Service port by name")
        problems.extend(f"ServiceMonitor: unknown endpoint field {k!r}" for k in set(endpoint) - allowed)
        if not re.fullmatch(r"\d+[smh]", str(endpoint.get("interval", "30s"))):
            problems.append(f"ServiceMonitor: interval {endpoint.get('interval')!r} is not a duration")
    return problems


def validate_k8s(documents: Iterable[tuple[Path, Doc]]) -> list[str]:
    """kubernetes-validate (strict) for built-in kinds; the CRD and kustomization structurally."""
    problems: list[str] = []
    for path, doc in documents:
        kind = doc.get("kind")
        if kind == "ServiceMonitor":
            problems.extend(f"{path.name}: {p}" for p in _service_monitor(doc))
        elif kind == "Kustomization":
            problems.extend(
                f"{path.name}: resource {r} does not exist"
                for r in doc.get("resources", [])
                if not (path.parent / r).is_file()
            )
        else:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except (kubernetes_validate.ValidationError, kubernetes_validate.InvalidSchemaError) as exc:
                problems.append(f"{path.name}: {kind}: {getattr(exc, 'message', exc)}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                problems.append(f"{path.name}: no schema for {kind}: {exc}")
    return problems


def _containers(doc: Doc) -> list[Doc]:
    containers: list[Doc] = doc["spec"]["template"]["spec"]["containers"]
    return containers


def k8s_requirements(documents: list[tuple[Path, Doc]]) -> list[str]:
    """What ORCH-8105 asks of the manifests beyond schema validity."""
    by_kind: dict[str, list[Doc]] = {}
    for _, doc in documents:
        by_kind.setdefault(doc["kind"], []).append(doc)
    problems = [
        f"missing a {kind}"
        for kind in ("Deployment", "Service", "ConfigMap", "Secret", "DaemonSet", "ServiceMonitor")
        if kind not in by_kind
    ]
    if problems:
        return problems
    for daemonset in by_kind["DaemonSet"]:
        pod = daemonset["spec"]["template"]["spec"]
        if not any("nvidia.com/gpu" in str(key) for key in pod.get("nodeSelector", {})):
            problems.append("the pool_managerd DaemonSet must select GPU nodes (nvidia.com/gpu...)")
        problems.extend(
            f"DaemonSet container {c['name']} requests no nvidia.com/gpu"
            for c in _containers(daemonset)
            if int(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0)) < 1
        )
    for deployment in by_kind["Deployment"]:
        problems.extend(
            f"Deployment container {c['name']}: readiness must probe /readyz"
            for c in _containers(deployment)
            if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz"
        )
    problems.extend(_scaled_out(by_kind))
    for secret in by_kind["Secret"]:
        text = "\n".join(secret.get("stringData", {}).values())
        if "api_keys" in text:
            creds = yaml.safe_load(text)
            hashes = [key["sha256"] for key in creds["api_keys"]] + list(creds.get("node_tokens", []))
            problems.extend(f"Secret holds {h!r}, not a SHA-256 hash" for h in hashes if not _SHA256.match(h))
    problems.extend(_monitored(by_kind))
    return problems


def _scaled_out(by_kind: dict[str, list[Doc]]) -> list[str]:
    """ORCH-4115: several orchestratord replicas on a shared Redis, updated and disrupted without downtime."""
    problems = []
    orchd = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "orchestratord"]
    for deployment in orchd:
        spec = deployment["spec"]
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 3:
            problems.append("the orchestratord Deployment must run at least 3 replicas")
        strategy = spec.get("strategy", {})
        if (
            strategy.get("type") != "RollingUpdate"
            or strategy.get("rollingUpdate", {}).get("maxUnavailable") != 0
        ):
            problems.append("the orchestratord Deployment must roll with maxUnavailable 0")
    selected = [
        budget["spec"].get("selector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        for budget in by_kind.get("PodDisruptionBudget", [])
    ]
    if "orchestratord" not in selected:
        problems.append("a PodDisruptionBudget must cover the orchestratord replicas")
    if not any(s["metadata"]["name"] == "redis" for s in by_kind.get("StatefulSet", [])):
        problems.append("a redis StatefulSet must hold the shared state")
    configs = [c for c in by_kind.get("ConfigMap", []) if c["metadata"]["name"] == "orchestratord-config"]
    for config in configs:
        state = yaml.safe_load(config["data"]["orchestratord.yaml"]).get("state", {})
        if state.get("backend") != "redis":
            problems.append("orchestratord-config must set state.backend: redis")
    return problems


def _monitored(by_kind: dict[str, list[Doc]]) -> list[str]:
    """Every Service the ServiceMonitor selects has its endpoint port; both daemons' Services are selected."""
    problems = []
    for monitor in by_kind["ServiceMonitor"]:
        wanted = monitor["spec"]["selector"]["matchLabels"]
        ports = {e.get("port") for e in monitor["spec"]["endpoints"]}
        selected = [s for s in by_kind["Service"] if wanted.items() <= s["metadata"]["labels"].items()]
        names = {s["metadata"]["name"] for s in selected}
        if not {"orchestratord", "pool-managerd"} <= names:
            problems.append(f"the ServiceMonitor selects {sorted(names)}, not both daemons")
        problems.extend(
            f"Service {service['metadata']['name']} lacks port(s) {sorted(ports)}"
            for service in selected
            if not ports <= {p.get("name") for p in service["spec"]["ports"]}
        )
    return problems


def compose_problems(path: Path) -> list[str]:
    """Structural check of the Compose file (ORCH-8104); `docker compose config` is not available here."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    services: dict[str, Doc] = doc.get("services", {})
    problems = [
        f"missing service {name}"
        for name in ("orchestratord", "pool-managerd", "redis", "prometheus", "grafana", "dcgm-exporter")
        if name not in services
    ]
    if problems:
        return problems
    for name in ("pool-managerd", "dcgm-exporter"):
        devices = (
            services[name].get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        )
        if not any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices):
            problems.append(f"{name}: no NVIDIA GPU reservation")
    probes = {"orchestratord": "/readyz", "pool-managerd": "/v1/health"}
    for name, probe in probes.items():
        test = " ".join(services[name].get("healthcheck", {}).get("test", []))
        if probe not in test:
            problems.append(f"{name}: the healthcheck must probe {probe}")
    gates = {
        "orchestratord": ["redis", "pool-managerd"],
        "prometheus": ["orchestratord", "pool-managerd"],
        "grafana": ["prometheus"],
    }
    for name, needs in gates.items():
        for need in needs:
            condition = services[name].get("depends_on", {}).get(need, {}).get("condition")
            if condition != "service_healthy":
                problems.append(f"{name} must wait for {need} to be healthy (got {condition})")
            elif "healthcheck" not in services[need]:
                problems.append(f"{name} waits on {need}, which has no healthcheck")
    problems.extend(_mounts(path.parent, services))
    return problems


def _mounts(base: Path, services: dict[str, Doc]) -> list[str]:
    """Bind mounts of repository files exist (models and named volumes aside)."""
    problems = []
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith(".") and not source.endswith("models") and not (base / source).exists():
                problems.append(f"{name}: mounted path {source} does not exist")
    return problems


def prometheus_targets(path: Path) -> set[str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {t for job in doc["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}


def unit_settings(path: Path) -> dict[str, list[str]]:
    """`Section.Key` -> values of a systemd unit (keys may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def unit_problems(path: Path, grace_s: float) -> list[str]:
    """ORCH-8106: restart on failure, SIGTERM, a stop timeout beyond the shutdown grace, sandboxing."""
    s = unit_settings(path)
    problems = []
    expected = {
        "Service.Restart": "on-failure",
        "Service.KillSignal": "SIGTERM",
        "Service.NoNewPrivileges": "yes",
        "Service.ProtectSystem": "strict",
        "Service.ProtectHome": "yes",
        "Service.PrivateTmp": "yes",
        "Install.WantedBy": "multi-user.target",
    }
    for key, value in expected.items():
        if s.get(key) != [value]:
            problems.append(f"{path.name}: {key} must be {value} (got {s.get(key)})")
    timeout = s.get("Service.TimeoutStopSec", ["90s"])[0]
    if float(timeout.removesuffix("s")) <= grace_s:
        problems.append(f"{path.name}: TimeoutStopSec {timeout} leaves no time beyond the {grace_s} s grace")
    exec_start = " ".join(s.get("Service.ExecStart", []))
    if "--config" not in exec_start or s.get("Service.User", ["root"]) == ["root"]:
        problems.append(f"{path.name}: ExecStart needs --config and the service its own user")
    return problems
