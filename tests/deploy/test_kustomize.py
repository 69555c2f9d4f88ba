"""The Kubernetes manifests (issue 14, item 5): each overlay rendered by the real
``kubectl kustomize``, validated against the Kubernetes schemas, and read for the facts a
dex-py Deployment must hold."""

from __future__ import annotations

import tomllib
from pathlib import PurePosixPath

import pytest
import yaml

from tests.deploy.dockerfile import REPO_ROOT
from tests.deploy.manifests import (
    CONFIG_PATH,
    Manifest,
    address_port,
    container,
    flag,
    kinds,
    kustomize,
    labels_match,
    load_config,
    mounted_config,
    named_port,
    one,
    validate_all,
)

KUSTOMIZE = REPO_ROOT / "deploy" / "kustomize"
OVERLAYS = ("sqlite", "postgres")
BASE_KINDS = {
    "ServiceAccount",
    "Deployment",
    "Service",
    "Secret",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "ServiceMonitor",
}

_rendered: dict[str, list[Manifest]] = {}


def rendered(overlay: str) -> list[Manifest]:
    if overlay not in _rendered:
        _rendered[overlay] = kustomize(KUSTOMIZE / "overlays" / overlay)
    return _rendered[overlay]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    manifests = rendered(overlay)
    assert kinds(manifests) >= BASE_KINDS
    validate_all(manifests)
    assert {m["metadata"].get("namespace") for m in manifests} == {"dex"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_the_telemetry_port(overlay: str) -> None:
    deployment = one(rendered(overlay), "Deployment")
    spec = container(deployment)
    telemetry = named_port(spec, "telemetry")
    for probe, path in (
        ("livenessProbe", "/healthz/live"),
        ("readinessProbe", "/healthz/ready"),
        ("startupProbe", "/healthz/live"),
    ):
        get = spec[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in ("telemetry", telemetry), probe
    assert address_port(flag(spec["args"], "--telemetry-addr") or "") == telemetry
    assert address_port(flag(spec["args"], "--web-http-addr") or "") == named_port(spec, "http")
    assert spec["args"][0] == "serve" and spec["args"][-1] == CONFIG_PATH


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runs_as_non_root_on_a_read_only_root_filesystem(overlay: str) -> None:
    deployment = one(rendered(overlay), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    spec = container(deployment)
    security = spec["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    assert spec["resources"]["requests"]["cpu"] and spec["resources"]["requests"]["memory"]
    # what the process writes lands on volumes: /tmp (worker metrics) at least
    writable = {m["mountPath"] for m in spec["volumeMounts"] if not m.get("readOnly")}
    assert "/tmp" in writable


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_mounted_config_loads_and_matches_the_container(overlay, monkeypatch) -> None:
    manifests = rendered(overlay)
    deployment = one(manifests, "Deployment")
    spec = container(deployment)
    config = load_config(mounted_config(manifests, deployment), spec, monkeypatch)
    assert config.storage.type == {"sqlite": "sqlite3", "postgres": "postgres"}[overlay]
    assert address_port(config.telemetry.http) == named_port(spec, "telemetry")
    assert address_port(config.web.http) == named_port(spec, "http")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_find_the_pods(overlay: str) -> None:
    manifests = rendered(overlay)
    deployment = one(manifests, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = one(manifests, "Service")
    assert labels_match(service["spec"]["selector"], labels)
    assert labels_match(
        one(manifests, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], labels
    )
    assert labels_match(
        one(manifests, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"], labels
    )
    assert labels_match(deployment["spec"]["selector"]["matchLabels"], labels)
    account = one(manifests, "ServiceAccount")["metadata"]["name"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_monitor_scrapes_the_telemetry_port(overlay: str) -> None:
    """The ServiceMonitor is a CRD the schemas do not hold: its shape checked here."""
    manifests = rendered(overlay)
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(monitor["spec"]) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}
    assert labels_match(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
    assert endpoint["path"] == "/metrics"
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert port["targetPort"] == "telemetry"


def test_sqlite_runs_one_pod_on_a_volume(monkeypatch) -> None:
    manifests = rendered("sqlite")
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "HorizontalPodAutoscaler" not in kinds(manifests)  # nothing scales it past 1
    claim = one(manifests, "PersistentVolumeClaim")["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    (mount,) = [m for m in container(deployment)["volumeMounts"] if m["name"] == volume["name"]]
    config = load_config(mounted_config(manifests, deployment), container(deployment), monkeypatch)
    database = PurePosixPath(config.storage.config["file"])
    assert database.is_relative_to(mount["mountPath"]), "the SQLite file is not on the volume"


def test_postgres_runs_three_replicas_and_scales_from_there() -> None:
    manifests = rendered("postgres")
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    autoscaler = one(manifests, "HorizontalPodAutoscaler")
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["spec"]["minReplicas"] == 3 < autoscaler["spec"]["maxReplicas"]
    assert "PersistentVolumeClaim" not in kinds(manifests)
    pod = deployment["spec"]["template"]["spec"]
    (spread,) = pod["topologySpreadConstraints"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels_match(spread["labelSelector"]["matchLabels"], labels)
    assert spread["topologyKey"] == "kubernetes.io/hostname"


def test_image_tag_chart_and_package_versions_agree() -> None:
    """One release number: pyproject.toml's version, the image tag the base deploys and the
    chart's appVersion (the tag the chart deploys by default)."""
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    base = yaml.safe_load((KUSTOMIZE / "base" / "kustomization.yaml").read_text())
    (image,) = base["images"]
    chart = yaml.safe_load((REPO_ROOT / "deploy/helm/dex-py/Chart.yaml").read_text())
    assert image["newTag"] == chart["appVersion"] == version
    assert chart["apiVersion"] == "v2" and chart["name"] == "dex-py"
