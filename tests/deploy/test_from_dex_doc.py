"""``docs/from-dex.md`` cannot rot (issue 14, item 8): every YAML snippet is checked for what it
is (a dex-py config or a section of one: loads with dex-py's loader without a warning; a
Kubernetes object: the schemas; a kubeconfig: kubectl reads it and its plugin arguments parse;
Helm values: the chart renders them), the kubelogin flag table names flags that exist, and the
systemd unit passes ``systemd-analyze verify``. The nginx recipe runs in ``test_nginx_recipe``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dex_py.config.loader import from_dict
from dex_py.kubelogin.command import _parser as kube_login_parser
from tests.deploy import manifests as k8s
from tests.deploy.dockerfile import REPO_ROOT
from tests.deploy.helm import CHART, render
from tests.live import deep_merge
from tests.services import missing_service

DOC = REPO_ROOT / "docs" / "from-dex.md"
CONFIG_KEYS = set(json.loads((REPO_ROOT / "docs/config.schema.json").read_text())["properties"])
VALUES_KEYS = set(yaml.safe_load((CHART / "values.yaml").read_text()))
# What a section alone is merged into, to load it as a whole config.
BASE_CONFIG = {
    "issuer": "https://dex.example.com/dex",
    "storage": {"type": "memory"},
    "web": {"http": "127.0.0.1:5556"},
    "enablePasswordDB": True,
}


def fenced_blocks(language: str) -> list[tuple[int, str]]:
    """(line number, text) of every ```language block of the guide."""
    text = DOC.read_text()
    blocks = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
        if match[1] == language:
            blocks.append((text.count("\n", 0, match.start()) + 1, match[2]))
    return blocks


YAML_BLOCKS = fenced_blocks("yaml")


def _load_strict(data: dict[str, Any], text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in k8s.referenced_variables(text):
        monkeypatch.setenv(name, "set-by-the-test")
    for entry in data.get("staticClients") or []:
        for key in ("idEnv", "secretEnv"):
            if key in entry:
                monkeypatch.setenv(entry[key], "set-by-the-test")
    config = from_dict(data, source="docs/from-dex.md")
    assert config.warnings == [], config.warnings


def _check_kubeconfig(data: dict[str, Any], tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        missing_service("kubectl", "not on PATH (reads the guide's kubeconfig)")
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(data))
    read = subprocess.run(
        [kubectl, "config", "view", "--kubeconfig", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert read.returncode == 0, read.stderr
    (user,) = json.loads(read.stdout)["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "dex-py" and exec_["args"][:2] == ["kube", "login"]
    args = kube_login_parser().parse_args(exec_["args"][1:])  # exits on an unknown flag
    assert args.issuer and args.client_id


def _check_overlay_patch(patch: dict[str, Any], tmp_path: Path) -> None:
    """A Deployment without a selector is the guide's patch for the postgres overlay: added to
    a copy of the overlay's patches, rendered by kubectl kustomize, then checked as a whole."""
    copy = tmp_path / "kustomize"
    shutil.copytree(REPO_ROOT / "deploy" / "kustomize", copy)
    overlay = copy / "overlays" / "postgres"
    (overlay / "guide-patch.yaml").write_text(yaml.safe_dump(patch))
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["patches"].append({"path": "guide-patch.yaml"})
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    manifests = k8s.kustomize(overlay)
    k8s.validate_all(manifests)
    spec = k8s.container(k8s.one(manifests, "Deployment"))
    wanted = patch["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert all(item in spec["envFrom"] for item in wanted)
    assert spec["env"], "the overlay's own env is kept"


def test_the_guide_has_snippets_of_each_kind() -> None:
    assert len(YAML_BLOCKS) >= 5
    assert fenced_blocks("nginx") and fenced_blocks("ini")


@pytest.mark.parametrize("line,text", YAML_BLOCKS, ids=[f"line-{line}" for line, _ in YAML_BLOCKS])
def test_yaml_snippet(line: int, text: str, tmp_path: Path, monkeypatch) -> None:
    data = yaml.safe_load(text)
    assert isinstance(data, dict), f"line {line}: not a mapping"
    if "apiVersion" in data and "kind" in data:
        if data["kind"] == "Config":
            _check_kubeconfig(data, tmp_path)
        elif data["kind"] == "Deployment" and "selector" not in data["spec"]:
            _check_overlay_patch(data, tmp_path)
        else:
            k8s.validate_all([data])
    elif set(data) <= CONFIG_KEYS:
        whole = data if "issuer" in data else deep_merge(BASE_CONFIG, data)
        _load_strict(whole, text, monkeypatch)
    elif set(data) <= VALUES_KEYS:
        manifests = render(data)
        k8s.validate_all(manifests)
        deployment = k8s.one(manifests, "Deployment")
        mounted = k8s.mounted_config(manifests, deployment)
        k8s.load_config(mounted, k8s.container(deployment), monkeypatch)
    else:
        pytest.fail(f"line {line}: neither a config, a Kubernetes object nor Helm values")


def test_kubelogin_table_names_existing_flags() -> None:
    text = DOC.read_text()
    table = text[text.index("| kubelogin | dex-py kube login |") :].split("\n\n", 1)[0]
    ours = [row.split("|")[2] for row in table.splitlines()[2:]]
    named = set(re.findall(r"--[a-z-]+", " ".join(ours)))
    assert {"--issuer", "--client-id", "--extra-scope"} <= named
    parser_flags = set(re.findall(r"--[a-z-]+", kube_login_parser().format_help()))
    help_text = subprocess.run(
        [str(Path(sys.executable).parent / "dex-py"), "kube", "login", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert named <= parser_flags | set(re.findall(r"--[a-z-]+", help_text))
    # the right column's "the same" rows: kubelogin's flag names must exist in dex-py's too
    for row in table.splitlines()[2:]:
        left, right = row.split("|")[1:3]
        if "the same" in right and "names" not in right:
            for flag in re.findall(r"--[a-z-]+", left):
                assert flag in help_text, flag


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        missing_service("systemd-analyze", "not on PATH (verifies the guide's unit)")
    ((_, unit),) = fenced_blocks("ini")
    assert "ExecStart=/opt/dex-py/bin/dex-py serve /etc/dex/config.yaml" in unit
    dex_py = Path(sys.executable).parent / "dex-py"
    path = tmp_path / "dex-py.service"
    path.write_text(unit.replace("/opt/dex-py/bin/dex-py", str(dex_py)))
    result = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def _row(name: str) -> list[str]:
    """The cells of the "What differs" row ``name``: [name, Dex, dex-py]."""
    line = next(row for row in DOC.read_text().splitlines() if row.startswith(f"| {name} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def _names(text: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", text))


def test_storages_named_are_the_ones_offered() -> None:
    from dex_py.storage.settings import STORAGE_TYPES

    _, dex, ours = _row("Storages")
    offered, advice = ours.split("(", 1)
    assert _names(offered) == set(STORAGE_TYPES)
    for name in _names(dex) - set(STORAGE_TYPES):  # what to use instead is said
        assert f"`{name}`" in advice, name


def test_connectors_named_are_the_ones_offered() -> None:
    from connectors import BUILTIN

    _, dex, ours = _row("Connectors")
    offered, missing = ours.split("Not offered:")
    assert _names(offered) - {"dex_py.connectors"} == set(BUILTIN)
    assert _names(missing.split(".")[0]) == _names(dex) - set(BUILTIN)


def test_metrics_named_are_the_ones_exported() -> None:
    from prometheus_client import REGISTRY

    from dex_py.ops import metrics

    metrics._get_metrics()
    exported = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in REGISTRY.collect()
        # the issuer's metrics; the auth proxy's (dexpy_proxy_*, its own process) are in the
        # registry too when a test imported dex_py.proxy first
        if family.name.startswith("dexpy_") and not family.name.startswith("dexpy_proxy_")
    }
    _, _, ours = _row("Metrics")
    assert {name for name in _names(ours) if name.startswith("dexpy_")} - {"dexpy_*"} == exported
