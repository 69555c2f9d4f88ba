"""The Helm chart ``deploy/helm/dex-py`` (issue 14, item 5), rendered by ``tests/deploy/helm.py``
(Go's text/template; helm itself is not installed here), validated against the Kubernetes
schemas and read for the same facts as the kustomize manifests; its values mirror the keys of
Dex's chart and mean the same thing."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy import manifests as k8s
from tests.deploy.helm import CHART, RenderError, render

# Keys of Dex's chart (charts.dexidp.io) that dex-py's chart has too, with the same meaning.
DEX_CHART_KEYS = [
    "replicaCount",
    "image.repository",
    "image.pullPolicy",
    "image.tag",
    "imagePullSecrets",
    "nameOverride",
    "fullnameOverride",
    "https.enabled",
    "grpc.enabled",
    "configSecret.create",
    "configSecret.name",
    "config",
    "volumes",
    "volumeMounts",
    "envFrom",
    "env",
    "envVars",
    "serviceAccount.create",
    "serviceAccount.annotations",
    "serviceAccount.name",
    "commonLabels",
    "podAnnotations",
    "podLabels",
    "podDisruptionBudget.enabled",
    "podDisruptionBudget.minAvailable",
    "podDisruptionBudget.maxUnavailable",
    "priorityClassName",
    "podSecurityContext",
    "securityContext",
    "service.annotations",
    "service.type",
    "service.clusterIP",
    "service.ports.http.port",
    "service.ports.http.nodePort",
    "service.ports.https.port",
    "service.ports.https.nodePort",
    "ingress.enabled",
    "ingress.className",
    "ingress.annotations",
    "ingress.hosts",
    "ingress.tls",
    "serviceMonitor.enabled",
    "serviceMonitor.namespace",
    "serviceMonitor.interval",
    "serviceMonitor.scrapeTimeout",
    "serviceMonitor.labels",
    "serviceMonitor.annotations",
    "serviceMonitor.path",
    "resources",
    "autoscaling.enabled",
    "autoscaling.minReplicas",
    "autoscaling.maxReplicas",
    "autoscaling.targetCPUUtilizationPercentage",
    "autoscaling.targetMemoryUtilizationPercentage",
    "nodeSelector",
    "tolerations",
    "affinity",
    "topologySpreadConstraints",
    "strategy",
    "networkPolicy.enabled",
    "networkPolicy.ingressRules",
    "networkPolicy.egressRules",
]

SQLITE_CONFIG = {
    "issuer": "https://dex.example.com/dex",
    "storage": {"type": "sqlite3", "config": {"file": "/var/dex/dex.db"}},
    "enablePasswordDB": True,
}

# A values file as written for Dex's chart: PostgreSQL, three replicas, everything switched on.
DEX_STYLE_VALUES: dict[str, Any] = yaml.safe_load(
    """
replicaCount: 3
image:
  repository: registry.example.com/dex-py
  tag: "0.1.0"
config:
  issuer: https://dex.example.com/dex
  storage:
    type: postgres
    config:
      host: postgres
      database: dex
      user: dex
      password: $DEX_POSTGRES_PASSWORD
      ssl: {mode: require}
  staticClients:
    - id: example-app
      secret: ZXhhbXBsZS1hcHAtc2VjcmV0
      name: Example App
      redirectURIs: [https://app.example.com/callback]
  enablePasswordDB: true
envVars:
  - name: DEX_POSTGRES_PASSWORD
    valueFrom:
      secretKeyRef: {name: dex-postgres, key: password}
env:
  TZ: UTC
ingress:
  enabled: true
  className: nginx
  hosts:
    - host: dex.example.com
      paths: [{path: /, pathType: Prefix}]
  tls:
    - secretName: dex-tls
      hosts: [dex.example.com]
serviceMonitor: {enabled: true, interval: 15s}
podDisruptionBudget: {enabled: true, minAvailable: 1}
autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 6}
networkPolicy: {enabled: true}
resources:
  requests: {cpu: 200m, memory: 300Mi}
"""
)


def _deployment_facts(manifests: list[k8s.Manifest]) -> k8s.Manifest:
    deployment = k8s.one(manifests, "Deployment")
    spec = k8s.container(deployment)
    assert spec["livenessProbe"]["httpGet"] == {"path": "/healthz/live", "port": "telemetry"}
    assert spec["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": "telemetry"}
    assert k8s.named_port(spec, "telemetry") == 5558
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"]
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert "/tmp" in {m["mountPath"] for m in spec["volumeMounts"]}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert k8s.labels_match(k8s.one(manifests, "Service")["spec"]["selector"], labels)
    assert k8s.labels_match(deployment["spec"]["selector"]["matchLabels"], labels)
    return deployment


def test_defaults_render_valid_manifests(monkeypatch) -> None:
    manifests = render({"config": SQLITE_CONFIG})
    assert k8s.kinds(manifests) == {"Deployment", "Service", "Secret", "ServiceAccount"}
    k8s.validate_all(manifests)
    deployment = _deployment_facts(manifests)
    assert deployment["spec"]["replicas"] == 1
    spec = k8s.container(deployment)
    config = k8s.load_config(k8s.mounted_config(manifests, deployment), spec, monkeypatch)
    assert config.issuer == SQLITE_CONFIG["issuer"]
    assert config.telemetry.http == "0.0.0.0:5558"  # from the flags, as Dex's chart sets it


def test_dex_style_values_render_every_object(monkeypatch) -> None:
    manifests = render(DEX_STYLE_VALUES)
    assert k8s.kinds(manifests) == {
        "Deployment",
        "Service",
        "Secret",
        "ServiceAccount",
        "Ingress",
        "ServiceMonitor",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    }
    k8s.validate_all(manifests)
    deployment = _deployment_facts(manifests)
    assert "replicas" not in deployment["spec"]  # the autoscaler owns it
    autoscaler = k8s.one(manifests, "HorizontalPodAutoscaler")["spec"]
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (3, 6)
    spec = k8s.container(deployment)
    assert spec["image"] == "registry.example.com/dex-py:0.1.0"
    assert {"name": "TZ", "value": "UTC"} in spec["env"]
    assert spec["resources"]["requests"] == {"cpu": "200m", "memory": "300Mi"}
    config = k8s.load_config(k8s.mounted_config(manifests, deployment), spec, monkeypatch)
    assert config.storage.type == "postgres"
    assert k8s.one(manifests, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 1,
        "selector": deployment["spec"]["selector"],
    }
    service = k8s.one(manifests, "Service")
    ingress = k8s.one(manifests, "Ingress")["spec"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["number"] == 5556
    assert ingress["ingressClassName"] == "nginx" and ingress["tls"][0]["secretName"] == "dex-tls"
    monitor = k8s.one(manifests, "ServiceMonitor")
    assert k8s.labels_match(
        monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"]
    )
    assert monitor["spec"]["endpoints"] == [
        {"port": "telemetry", "path": "/metrics", "interval": "15s"}
    ]
    assert "telemetry" in {p["name"] for p in service["spec"]["ports"]}


def test_replica_count_without_autoscaling() -> None:
    deployment = k8s.one(render({"config": SQLITE_CONFIG, "replicaCount": 3}), "Deployment")
    assert deployment["spec"]["replicas"] == 3


def test_https_adds_the_flag_port_and_service_port() -> None:
    manifests = render({"config": SQLITE_CONFIG, "https": {"enabled": True}})
    k8s.validate_all(manifests)
    spec = k8s.container(k8s.one(manifests, "Deployment"))
    assert "--web-https-addr=0.0.0.0:5554" in spec["args"]
    assert k8s.named_port(spec, "https") == 5554
    assert "https" in {p["name"] for p in k8s.one(manifests, "Service")["spec"]["ports"]}


def test_grpc_needs_mutual_tls_and_opens_its_port() -> None:
    with pytest.raises(RenderError, match="tlsCert, tlsKey and tlsClientCA"):
        render({"config": SQLITE_CONFIG, "grpc": {"enabled": True}})
    tls = {"tlsCert": "/etc/dex/tls/tls.crt", "tlsKey": "/etc/dex/tls/tls.key"}
    tls["tlsClientCA"] = "/etc/dex/tls/ca.crt"
    manifests = render({"config": {**SQLITE_CONFIG, "grpc": tls}, "grpc": {"enabled": True}})
    k8s.validate_all(manifests)
    spec = k8s.container(k8s.one(manifests, "Deployment"))
    assert "--grpc-addr=0.0.0.0:5557" in spec["args"]
    assert k8s.named_port(spec, "grpc") == 5557
    assert "grpc" in {p["name"] for p in k8s.one(manifests, "Service")["spec"]["ports"]}
    plain = k8s.container(k8s.one(render({"config": SQLITE_CONFIG}), "Deployment"))
    assert not any(a.startswith("--grpc-addr") for a in plain["args"])


def test_an_existing_config_secret_is_mounted_instead() -> None:
    manifests = render({"configSecret": {"create": False, "name": "my-dex-config"}})
    assert "Secret" not in k8s.kinds(manifests)
    volumes = k8s.one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "secret": {"secretName": "my-dex-config"}} in volumes
    with pytest.raises(RenderError, match=r"configSecret\.name"):
        render({"configSecret": {"create": False}})


def test_sqlite_on_a_claim_through_volumes(monkeypatch) -> None:
    manifests = render(
        {
            "config": SQLITE_CONFIG,
            "strategy": {"type": "Recreate"},
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "dex-data"}}],
            "volumeMounts": [{"name": "data", "mountPath": "/var/dex"}],
        }
    )
    k8s.validate_all(manifests)
    deployment = k8s.one(manifests, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    mounts = {m["mountPath"] for m in k8s.container(deployment)["volumeMounts"]}
    assert {"/etc/dex", "/tmp", "/var/dex"} <= mounts


def test_values_mirror_dex_charts_keys_and_each_is_used() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    templates = "\n".join(p.read_text() for p in (CHART / "templates").iterdir())
    for key in DEX_CHART_KEYS:
        node: Any = values
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"values.yaml lacks {key}"
            node = node[part]
        used = re.search(r"\.Values\." + re.escape(key) + r"(?![\w.])", templates)
        assert used, f"{key} is read by no template"
    assert "rbac" not in values  # no Kubernetes API access: nothing for RBAC to grant
