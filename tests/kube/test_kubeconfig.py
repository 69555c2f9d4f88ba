"""An API server can use the webhook: its kubeconfig (the format of
``--authentication-token-webhook-config-file``), written from the loaded config's values, is
parsed by the real ``kubectl``, and the URL and caller token kubectl reads from it get a
TokenReview answered by the live server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from dex_py.config.kubernetes import parse_token_review, webhook_url
from dex_py.config.loader import load
from tests.kube.reviews import V1, password_tokens
from tests.live import ADMIN_EMAIL, LiveServer

pytestmark = pytest.mark.live

KUBECTL = "/usr/bin/kubectl"


def webhook_kubeconfig(server: LiveServer) -> dict[str, Any]:
    """The webhook kubeconfig for ``server``, from its config file as ``dex-py`` loads it."""
    settings = parse_token_review(load(server.config_path))
    assert settings is not None
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "dex-py", "cluster": {"server": webhook_url(server.issuer)}}],
        "users": [{"name": "kube-apiserver", "user": {"token": settings.caller_tokens[0]}}],
        "contexts": [
            {"name": "webhook", "context": {"cluster": "dex-py", "user": "kube-apiserver"}}
        ],
        "current-context": "webhook",
    }


def test_kubectl_parses_the_webhook_kubeconfig_and_its_values_work(
    kube_server: LiveServer, tmp_path: Path
) -> None:
    kubectl = shutil.which("kubectl") or KUBECTL
    assert Path(kubectl).exists(), "kubectl is required (apt-get install kubectl)"
    path = tmp_path / "webhook.kubeconfig"
    path.write_text(yaml.safe_dump(webhook_kubeconfig(kube_server)))
    out = subprocess.run(
        [kubectl, "config", "view", "--kubeconfig", str(path), "--raw", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    server_url = seen["clusters"][0]["cluster"]["server"]
    caller = seen["users"][0]["user"]["token"]
    assert server_url == kube_server.url("/kubernetes/tokenreview")
    # what kube-apiserver would do with it: POST a TokenReview with that bearer token
    id_token = password_tokens(kube_server)["id_token"]
    body = {"apiVersion": V1, "kind": "TokenReview", "spec": {"token": id_token}}
    resp = requests.post(
        server_url,
        json=body,
        headers={"Authorization": f"Bearer {caller}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"]["user"]["username"] == ADMIN_EMAIL
