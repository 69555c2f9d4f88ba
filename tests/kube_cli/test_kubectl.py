"""Real kubectl with the kubeconfig of ``dex-py kube setup``: it runs ``dex-py kube login`` as
its exec plugin and sends the ID token to a fake API server that checks it with go-oidc and the
printed ``--oidc-*`` flags."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.kube_cli.fake_apiserver import VERSION, FakeAPIServer
from tests.kube_cli.helpers import KUBECTL, cluster, kubectl, plugin_env
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, EXAMPLE_CLIENT_ID, LiveServer
from tests.tls import CAFiles

pytestmark = [pytest.mark.live, pytest.mark.slow]
LOGGED_IN = "dex-py kube login: logged in to"


def _cluster(
    server: LiveServer, api: FakeAPIServer, api_ca: CAFiles, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    """Start ``api`` with setup's flags; a kubeconfig whose plugin uses the password grant."""
    credentials = ("--username", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    return cluster(
        server, api, api_ca, tmp_path, EXAMPLE_CLIENT_ID, "--grant-type", "password", *credentials
    )


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_kubectl_version_and_whoami_through_the_plugin(
    kube_issuer: Any,
    fake_apiserver: FakeAPIServer,
    api_ca: CAFiles,
    tmp_path: Path,
    algorithm: str,
) -> None:
    assert Path(KUBECTL).exists(), "kubectl is required"
    # The teams engine maps the upstream group "developers" to the team "platform-team"; the
    # admin's other group passes unchanged (unmatched: keep).
    teams = {"rules": [{"exact": "developers", "team": "platform-team"}]}
    server = kube_issuer({"signing": {"algorithm": algorithm}, "teams": teams})
    kubeconfig, setup = _cluster(server, fake_apiserver, api_ca, tmp_path)
    env = plugin_env(tmp_path)

    version = kubectl(kubeconfig, env, "get", "--raw", "/version")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["gitVersion"] == VERSION["gitVersion"]

    whoami = kubectl(kubeconfig, env, "auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == f"oidc:{ADMIN_EMAIL}"
    assert {"oidc:admins", "oidc:platform-team"} <= set(user["groups"])
    assert "oidc:developers" not in user["groups"]
    # The example ClusterRoleBinding names the first configured team, as kubectl sees it.
    binding = setup["clusterRoleBinding"]["subjects"][0]["name"]
    assert binding == "oidc:platform-team" and binding in user["groups"]
    kubernetes_validate.validate(fake_apiserver.reviews[-1], "1.32.0", strict=True)
    # One login; the second kubectl command got the cached token (default cache under HOME).
    assert (version.stderr + whoami.stderr).count(LOGGED_IN) == 1
    assert len(set(fake_apiserver.tokens)) == 1
    cache = tmp_path / ".kube" / "cache" / "dex-py"
    assert len(list(cache.glob("*.json"))) == 1


def test_parallel_kubectl_invocations_share_one_login(
    kube_issuer: Any, fake_apiserver: FakeAPIServer, api_ca: CAFiles, tmp_path: Path
) -> None:
    server = kube_issuer()
    kubeconfig, _ = _cluster(server, fake_apiserver, api_ca, tmp_path)
    env = plugin_env(tmp_path)
    procs = [
        subprocess.Popen(
            [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "--raw", "/version"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=90) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    assert sum(err.count(LOGGED_IN) for _, err in results) == 1
    assert len(fake_apiserver.tokens) >= 3 and len(set(fake_apiserver.tokens)) == 1


def test_a_token_for_another_audience_is_rejected_by_the_verifier(
    kube_issuer: Any, fake_apiserver: FakeAPIServer, api_ca: CAFiles, tmp_path: Path
) -> None:
    """The fake API server really checks: setup's flags name example-app, so a kubectl whose
    plugin logs in as public-cli gets 401 (the fake is not a rubber stamp)."""
    server = kube_issuer()
    kubeconfig, _ = _cluster(server, fake_apiserver, api_ca, tmp_path)
    config = yaml.safe_load(kubeconfig.read_text())
    args = config["users"][0]["user"]["exec"]["args"]
    args[args.index("--client-secret") + 1] = "wrong-secret"
    kubeconfig.write_text(yaml.safe_dump(config))
    run = kubectl(kubeconfig, plugin_env(tmp_path), "get", "--raw", "/version")
    assert run.returncode != 0
    assert "invalid_client" in run.stderr
    assert fake_apiserver.tokens == []
