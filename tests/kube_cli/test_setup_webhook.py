"""``dex-py kube setup --webhook``: the kubeconfig of kube-apiserver's
``--authentication-token-webhook-config-file`` loads in real kubectl, and what kubectl reads from
it (the URL, the CA, the caller token) gets a TokenReview answered by a live dex-py, over http
and over https with a private CA; the flags; a config without the webhook is a one-line error."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.kube.reviews import CALLER, CALLER_ENV, V1, password_tokens, review_config
from tests.kube_cli.helpers import DEX_PY, kube_setup, kubectl
from tests.live import ADMIN_EMAIL, EXAMPLE_CLIENT_ID, deep_merge, default_config
from tests.services import free_port
from tests.tls import make_test_ca

pytestmark = pytest.mark.live

SERVER = ("--server", "https://k8s.example:6443")
FLAGS = [
    "--authentication-token-webhook-config-file=/etc/kubernetes/dex-py-webhook.kubeconfig",
    "--authentication-token-webhook-version=v1",
    "--authentication-token-webhook-cache-ttl=10s",
]


@pytest.fixture(autouse=True)
def _caller_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """``callerTokens: [$CALLER_ENV, ...]`` expands to ``CALLER`` (in the server, in setup)."""
    monkeypatch.setenv(CALLER_ENV, CALLER)


def _setup(
    config: Path, *args: str, client_id: str = EXAMPLE_CLIENT_ID
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEX_PY, "kube", "setup", str(config), "--client-id", client_id, *SERVER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _kubectl_view(kubeconfig: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The webhook kubeconfig as real kubectl loads it (secrets shown: ``--raw``)."""
    path = tmp_path / "webhook.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    view = kubectl(path, dict(os.environ), "config", "view", "--raw", "-o", "json")
    assert view.returncode == 0, view.stderr
    loaded: dict[str, Any] = json.loads(view.stdout)
    return loaded


def _review_as_the_apiserver(
    loaded: dict[str, Any], id_token: str, verify: str | bool = True
) -> requests.Response:
    """POST a TokenReview for ``id_token`` where the kubeconfig says, with its token."""
    cluster = loaded["clusters"][0]["cluster"]
    caller = loaded["users"][0]["user"]["token"]
    body = {"apiVersion": V1, "kind": "TokenReview", "spec": {"token": id_token}}
    return requests.post(
        cluster["server"],
        json=body,
        headers={"Authorization": f"Bearer {caller}"},
        timeout=10,
        verify=verify,
    )


def test_the_webhook_kubeconfig_drives_a_review(make_live_server: Any, tmp_path: Path) -> None:
    server = make_live_server(review_config())
    out = kube_setup(server.config_path, "--client-id", EXAMPLE_CLIENT_ID, *SERVER, "--webhook")
    assert out["webhookFlags"] == FLAGS
    loaded = _kubectl_view(out["webhookKubeconfig"], tmp_path)
    assert loaded["clusters"][0]["cluster"] == {"server": server.url("/kubernetes/tokenreview")}
    assert loaded["users"][0]["user"] == {"token": CALLER}  # the first caller token
    assert loaded["current-context"] == "webhook"
    id_token = password_tokens(server)["id_token"]
    resp = _review_as_the_apiserver(loaded, id_token)
    assert resp.status_code == 200, resp.text
    status = resp.json()["status"]
    assert status["authenticated"] is True and status["user"]["username"] == ADMIN_EMAIL
    # the token in the file is what authenticates kube-apiserver: another one learns nothing
    loaded["users"][0]["user"]["token"] = CALLER[::-1]
    assert _review_as_the_apiserver(loaded, id_token).status_code == 401


def test_https_issuer_with_a_private_ca(
    make_live_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CA goes into the file (kube-apiserver may not see the path where setup ran), and
    with it alone the review succeeds over TLS."""
    ca = make_test_ca(tmp_path / "ca")
    port = free_port()
    tls = {
        "issuer": f"https://127.0.0.1:{port}/dex",
        "web": {"http": None, "https": f"127.0.0.1:{port}"},
    }
    tls["web"].update(tlsCert=str(ca.cert_pem), tlsKey=str(ca.key_pem))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.ca_pem))  # the harness's health check
    server = make_live_server(deep_merge(review_config(), tls), port=port)
    out = kube_setup(
        server.config_path,
        "--client-id",
        EXAMPLE_CLIENT_ID,
        *SERVER,
        "--webhook",
        "--certificate-authority",
        str(ca.ca_pem),
    )
    loaded = _kubectl_view(out["webhookKubeconfig"], tmp_path)
    cluster = loaded["clusters"][0]["cluster"]
    assert cluster["server"] == f"https://127.0.0.1:{port}/dex/kubernetes/tokenreview"
    ca_file = tmp_path / "from-kubeconfig.pem"
    ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    assert ca_file.read_bytes() == ca.ca_pem.read_bytes()
    id_token = password_tokens(server)["id_token"]
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    resp = _review_as_the_apiserver(loaded, id_token, verify=str(ca_file))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"]["user"]["username"] == ADMIN_EMAIL


def _plain_config(tmp_path: Path, overrides: dict[str, Any] | None = None) -> Path:
    data = deep_merge(default_config(24555, tmp_path), overrides or {})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_yaml_output_only_parts_and_the_secret_warning(tmp_path: Path) -> None:
    config = _plain_config(tmp_path, review_config())
    as_yaml = _setup(config, "--webhook")
    assert as_yaml.returncode == 0, as_yaml.stderr
    data = yaml.safe_load(as_yaml.stdout)
    assert data["webhookKubeconfig"]["users"][0]["user"]["token"] == CALLER
    assert data["webhookFlags"] == FLAGS
    assert "holds a caller token (kubernetes.tokenReview.callerTokens): it is a secret" in (
        as_yaml.stderr
    )
    assert "leave out the --oidc-* flags" in as_yaml.stderr
    assert CALLER not in as_yaml.stderr  # the warning names the key, not the token
    # without --webhook: no webhook parts, no warning about them
    plain = _setup(config)
    assert "webhookKubeconfig" not in yaml.safe_load(plain.stdout)
    assert "caller token" not in plain.stderr
    flags = _setup(config, "--only", "webhookFlags")
    assert flags.stdout == " \\\n  ".join(FLAGS) + "\n"
    other = _setup(config, "--only", "webhookKubeconfig", "--webhook-config-file", "/srv/w.yaml")
    assert yaml.safe_load(other.stdout)["kind"] == "Config"
    path_flag = _setup(config, "--only", "webhookFlags", "--webhook-config-file", "/srv/w.yaml")
    assert "--authentication-token-webhook-config-file=/srv/w.yaml" in path_flag.stdout


def test_warnings_about_a_client_or_prefixes_the_webhook_does_not_share(tmp_path: Path) -> None:
    config = _plain_config(tmp_path, review_config())  # audiences: example-app; no prefixes
    run = _setup(config, "--webhook", client_id="public-cli")
    assert run.returncode == 0, run.stderr
    assert "client public-cli is not in kubernetes.tokenReview.audiences" in run.stderr
    assert "maps with prefixes '-' (username) and '-' (groups)" in run.stderr


@pytest.mark.parametrize(
    "overrides",
    [None, {"kubernetes": {"tokenReview": {"audiences": [EXAMPLE_CLIENT_ID]}}}],
    ids=["no-section", "no-caller-tokens"],
)
def test_webhook_without_token_review_is_a_one_line_error(
    tmp_path: Path, overrides: dict[str, Any] | None
) -> None:
    run = _setup(_plain_config(tmp_path, overrides), "--webhook")
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines() == [
        "error: --webhook: the config has no kubernetes.tokenReview with callerTokens "
        "(the TokenReview webhook is off)"
    ]
