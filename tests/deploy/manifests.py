"""Helpers for the Kubernetes manifest tests: render with the real ``kubectl kustomize``,
validate against the schemas ``kubernetes-validate`` ships, and check the facts every dex-py
Deployment must hold (probes on the telemetry port, non-root, read-only root filesystem, the
mounted config loading as a dex-py config whose ports are the container's)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from dex_py.config import Config
from dex_py.config.loader import load_string
from tests.services import missing_service

K8S_VERSION = "1.32.0"
CONFIG_PATH = "/etc/dex/config.yaml"
Manifest = dict[str, Any]


def kustomize(directory: Path) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        missing_service("kubectl", "not on PATH (kubectl kustomize renders the manifests)")
    out = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def validate_all(manifests: list[Manifest]) -> None:
    """Every manifest against the Kubernetes schemas (strict: unknown fields fail); the
    ServiceMonitor, a CRD the schemas lack, by its own shape."""
    for manifest in manifests:
        if manifest["kind"] == "ServiceMonitor":
            continue
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def one(manifests: list[Manifest], kind: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


def kinds(manifests: list[Manifest]) -> set[str]:
    return {m["kind"] for m in manifests}


def container(deployment: Manifest) -> Manifest:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def named_port(container_spec: Manifest, name: str) -> int:
    for port in container_spec["ports"]:
        if port["name"] == name:
            return int(port["containerPort"])
    raise AssertionError(f"no container port {name!r}")


def address_port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def flag(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return args[i + 1]
    return None


def mounted_config(manifests: list[Manifest], deployment: Manifest) -> str:
    """The text of config.yaml as the pod sees it at /etc/dex/config.yaml."""
    spec = deployment["spec"]["template"]["spec"]
    mount = next(m for m in container(deployment)["volumeMounts"] if m["mountPath"] == "/etc/dex")
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    secret_name = volume["secret"]["secretName"]
    secret = next(
        m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == secret_name
    )
    return base64.b64decode(secret["data"]["config.yaml"]).decode()


# serve's flags (Dex's) and the config keys they replace, as dex_py.cli passes them to load
SERVE_FLAGS = {
    "--web-http-addr": "web.http",
    "--web-https-addr": "web.https",
    "--telemetry-addr": "telemetry.http",
    "--grpc-addr": "grpc.addr",
}


def load_config(text: str, container_spec: Manifest, monkeypatch: Any) -> Config:
    """``text`` loaded as ``dex-py serve`` in ``container_spec`` loads it: its flags applied,
    the variables of its ``env`` set. No error, and no warning either (``--strict``); every
    ``$VAR`` the config reads must be set in the container."""
    env = {e["name"] for e in container_spec.get("env", [])}
    assert referenced_variables(text) <= env, "a $VAR of the config is not set in the pod"
    for name in env:
        monkeypatch.setenv(name, "set-by-the-test")
    args = container_spec["args"]
    overrides = {key: value for f, key in SERVE_FLAGS.items() if (value := flag(args, f))}
    config = load_string(text, "config.yaml", overrides)
    assert config.warnings == [], config.warnings
    return config


def referenced_variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
