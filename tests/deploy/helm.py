"""``helm template`` without helm: the chart's templates rendered by Go's own text/template
(``helm_render/main.go``, built once with the Debian Go toolchain) with Helm's values merge,
release and chart objects. Only the Helm/Sprig functions the chart calls exist there: a chart
using another one fails to parse, loudly, instead of rendering something helm would not."""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.dockerfile import REPO_ROOT
from tests.live import deep_merge
from tests.services import missing_service

CHART = REPO_ROOT / "deploy" / "helm" / "dex-py"
RENDERER = Path(__file__).resolve().parent / "helm_render" / "main.go"


class RenderError(Exception):
    """The chart failed to render (a template error, ``fail`` or ``required``)."""


@cache
def _renderer() -> str:
    go = shutil.which("go")
    if not go:
        missing_service("go", "the Go toolchain (Debian golang-go) builds the chart renderer")
    folder = tempfile.mkdtemp(prefix="dexpy-helm-render-")
    atexit.register(shutil.rmtree, folder, True)
    binary = Path(folder) / "helm_render"
    subprocess.run(
        [go, "build", "-o", str(binary), str(RENDERER)],
        check=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(binary.parent), "GO111MODULE": "off"},
    )
    return str(binary)


def render(
    values: dict[str, Any] | None = None, *, release: str = "dex", namespace: str = "dex"
) -> list[dict[str, Any]]:
    """The manifests ``helm template RELEASE deploy/helm/dex-py -n NAMESPACE -f values`` gives."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    templates = {
        f"{chart['name']}/templates/{path.name}": path.read_text()
        for path in sorted((CHART / "templates").iterdir())
        if path.suffix in (".yaml", ".tpl")
    }
    request = {
        "templates": templates,
        "values": deep_merge(defaults, values or {}),  # as helm merges -f values
        "chart": {
            "Name": chart["name"],
            "Version": chart["version"],
            "AppVersion": chart["appVersion"],
        },
        "release": {
            "Name": release,
            "Namespace": namespace,
            "Service": "Helm",
            "IsInstall": True,
            "IsUpgrade": False,
        },
    }
    result = subprocess.run(
        [_renderer()], input=json.dumps(request), capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    manifests: list[dict[str, Any]] = []
    for name, text in sorted(json.loads(result.stdout).items()):
        try:
            manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
        except yaml.YAMLError as exc:
            raise RenderError(f"{name} is not YAML: {exc}\n{text}") from None
    return manifests
