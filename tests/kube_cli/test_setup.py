"""``dex-py kube setup``: the kubeconfig loads in real kubectl, the ClusterRoleBinding passes
kubernetes-validate's schemas, and the AuthenticationConfiguration (in no schema that
kubernetes-validate ships) has the shape the Kubernetes docs give for
apiserver.config.k8s.io/v1beta1's JWT authenticator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.kube_cli.helpers import DEX_PY, KUBECTL, kube_setup
from tests.live import ADMIN_HASH, deep_merge, default_config
from tests.tls import make_test_ca, self_signed_cert

K8S_VERSION = "1.32.0"


def _config(tmp_path: Path, overrides: dict[str, Any] | None = None) -> Path:
    data = deep_merge(default_config(23555, tmp_path), overrides or {})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _setup(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEX_PY, "kube", "setup", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_authentication_configuration(doc: dict[str, Any]) -> None:
    """The documented fields of AuthenticationConfiguration v1beta1's ``jwt`` authenticators."""
    assert doc["apiVersion"] == "apiserver.config.k8s.io/v1beta1"
    assert doc["kind"] == "AuthenticationConfiguration"
    assert set(doc) <= {"apiVersion", "kind", "jwt", "anonymous"}
    assert 1 <= len(doc["jwt"]) <= 64
    for jwt in doc["jwt"]:
        assert set(jwt) <= {
            "issuer",
            "claimValidationRules",
            "claimMappings",
            "userValidationRules",
        }
        issuer = jwt["issuer"]
        assert set(issuer) <= {
            "url",
            "discoveryURL",
            "certificateAuthority",
            "audiences",
            "audienceMatchPolicy",
        }
        assert issuer["url"] and "?" not in issuer["url"] and "#" not in issuer["url"]
        assert issuer["audiences"] and all(isinstance(a, str) for a in issuer["audiences"])
        if len(issuer["audiences"]) > 1:
            assert issuer["audienceMatchPolicy"] == "MatchAny"
        if "certificateAuthority" in issuer:
            assert issuer["certificateAuthority"].startswith("-----BEGIN CERTIFICATE-----")
        for name in ("username", "groups"):
            mapping = jwt["claimMappings"].get(name)
            if mapping is None:
                continue
            assert set(mapping) <= {"claim", "prefix", "expression"}
            assert ("claim" in mapping) != ("expression" in mapping)
            if "claim" in mapping:  # a prefix is required with claim ("" for none)
                assert isinstance(mapping["prefix"], str)
        assert "username" in jwt["claimMappings"]
        for rule in jwt.get("claimValidationRules", []):
            assert set(rule) in ({"claim", "requiredValue"}, {"expression", "message"}), rule


def test_the_outputs_for_the_example_config(tmp_path: Path) -> None:
    out = kube_setup(
        _config(tmp_path),
        "--client-id",
        "public-cli",
        "--server",
        "https://127.0.0.1:6443",
        "--cluster-name",
        "dev",
    )
    issuer = "http://127.0.0.1:23555/dex"
    assert out["apiServerFlags"] == [
        f"--oidc-issuer-url={issuer}",
        "--oidc-client-id=public-cli",
        "--oidc-username-claim=email",
        "--oidc-username-prefix=oidc:",
        "--oidc-groups-claim=groups",
        "--oidc-groups-prefix=oidc:",
        "--oidc-signing-algs=RS256",
    ]
    user = out["kubeconfig"]["users"][0]["user"]["exec"]
    assert user["apiVersion"] == "client.authentication.k8s.io/v1"
    assert user["command"] == "dex-py"
    assert user["args"] == ["kube", "login", "--issuer", issuer, "--client-id", "public-cli"]
    check_authentication_configuration(out["authenticationConfiguration"])
    jwt = out["authenticationConfiguration"]["jwt"][0]
    assert jwt["claimValidationRules"][0]["expression"] == (
        "claims.?email_verified.orValue(true) == true"
    )
    crb = out["clusterRoleBinding"]
    kubernetes_validate.validate(crb, K8S_VERSION, strict=True)
    assert crb["subjects"][0]["name"] == "oidc:admins"  # the admin's first group

    # The kubeconfig loads in real kubectl.
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(out["kubeconfig"]))
    view = subprocess.run(
        [KUBECTL, "config", "view", "--kubeconfig", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert view.returncode == 0, view.stderr
    loaded = json.loads(view.stdout)
    assert loaded["current-context"] == "dev"
    assert loaded["users"][0]["user"]["exec"]["args"] == user["args"]
    assert loaded["users"][0]["user"]["exec"]["interactiveMode"] == "IfAvailable"


def test_yaml_output_and_only_one_part(tmp_path: Path) -> None:
    config = _config(tmp_path)
    base = ["--client-id", "public-cli", "--server", "https://k8s.example:6443"]
    as_yaml = _setup(config, *base)
    assert as_yaml.returncode == 0, as_yaml.stderr
    assert "not https" in as_yaml.stderr  # kube-apiserver needs an https issuer
    assert yaml.safe_load(as_yaml.stdout) == kube_setup(config, *base)
    kubeconfig = _setup(config, *base, "--only", "kubeconfig")
    assert yaml.safe_load(kubeconfig.stdout)["kind"] == "Config"
    flags = _setup(config, *base, "--only", "apiServerFlags")
    assert flags.stdout.startswith("--oidc-issuer-url=http://127.0.0.1:23555/dex \\\n  --oidc")


def test_es256_https_issuer_with_a_private_ca_and_a_team(tmp_path: Path) -> None:
    ca = make_test_ca(tmp_path / "ca")
    config = _config(
        tmp_path,
        {
            "issuer": "https://127.0.0.1:23554/dex",
            "web": {
                "http": None,
                "https": "127.0.0.1:23554",
                "tlsCert": str(ca.cert_pem),
                "tlsKey": str(ca.key_pem),
            },
            "signing": {"algorithm": "ES256"},
            "teams": {"rules": [{"glob": "dev*", "team": "Platform Team"}]},
        },
    )
    out = kube_setup(
        config,
        "--client-id",
        "example-app",
        "--server",
        "https://k8s:6443",
        "--certificate-authority",
        str(ca.ca_pem),
    )
    flags = out["apiServerFlags"]
    assert "--oidc-signing-algs=ES256" in flags
    assert f"--oidc-ca-file={ca.ca_pem.resolve()}" in flags
    args = out["kubeconfig"]["users"][0]["user"]["exec"]["args"]
    assert args[-2:] == ["--certificate-authority", str(ca.ca_pem.resolve())]
    assert "--client-secret" in args  # a confidential client: its secret goes along
    authn = out["authenticationConfiguration"]
    check_authentication_configuration(authn)
    assert authn["jwt"][0]["issuer"]["certificateAuthority"] == ca.ca_pem.read_text()
    crb = out["clusterRoleBinding"]
    kubernetes_validate.validate(crb, K8S_VERSION, strict=True)
    assert crb["metadata"]["name"] == "dex-py-platform-team-view"
    assert crb["subjects"][0]["name"] == "oidc:Platform Team"
    team = kube_setup(
        config, "--client-id", "example-app", "--server", "https://k8s:6443", "--team", "sre"
    )
    assert team["clusterRoleBinding"]["subjects"][0]["name"] == "oidc:sre"
    # Without the CA option nothing private is assumed.
    plain = kube_setup(config, "--client-id", "example-app", "--server", "https://k8s:6443")
    assert not any(f.startswith("--oidc-ca-file") for f in plain["apiServerFlags"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client-id", "nope"], "staticClients has no client 'nope' (configured: example-app"),
        (
            ["--client-id", "public-cli", "--certificate-authority", "/no/such.pem"],
            "--certificate-authority /no/such.pem: no such file",
        ),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    run = _setup(_config(tmp_path), *args, "--server", "https://k8s:6443")
    assert run.returncode == 1 and run.stdout == ""
    assert message in run.stderr and "Traceback" not in run.stderr


def test_no_team_anywhere_asks_for_one(tmp_path: Path) -> None:
    user = {"email": "a@example.com", "hash": ADMIN_HASH, "username": "a", "userID": "1"}
    config = _config(tmp_path, {"staticPasswords": [user]})
    run = _setup(config, "--client-id", "public-cli", "--server", "https://k8s:6443")
    assert run.returncode == 1 and "pass --team NAME" in run.stderr


def test_self_signed_issuer_cert_as_its_own_ca(tmp_path: Path) -> None:
    cert, _key = self_signed_cert(tmp_path)
    config = _config(tmp_path, {"issuer": "https://127.0.0.1:23553/dex"})
    out = kube_setup(
        config,
        "--client-id",
        "public-cli",
        "--server",
        "https://k8s:6443",
        "--certificate-authority",
        str(cert),
    )
    assert out["authenticationConfiguration"]["jwt"][0]["issuer"]["certificateAuthority"]


def test_a_sub_username_needs_no_email_rule(tmp_path: Path) -> None:
    out = kube_setup(
        _config(tmp_path),
        "--client-id",
        "public-cli",
        "--server",
        "https://k:6443",
        "--username-claim",
        "sub",
        "--username-prefix",
        "",
        "--groups-prefix",
        "",
    )
    assert "--oidc-username-claim=sub" in out["apiServerFlags"]
    assert "--oidc-username-prefix=-" in out["apiServerFlags"]  # "-": no prefix at all
    assert "--oidc-groups-prefix=" in out["apiServerFlags"]
    jwt = out["authenticationConfiguration"]["jwt"][0]
    check_authentication_configuration(out["authenticationConfiguration"])
    assert "claimValidationRules" not in jwt
    assert jwt["claimMappings"]["username"] == {"claim": "sub", "prefix": ""}
    assert out["clusterRoleBinding"]["subjects"][0]["name"] == "admins"


def test_a_public_client_without_the_loopback_redirect_is_warned_about(tmp_path: Path) -> None:
    config = _config(tmp_path)
    ok = _setup(config, "--client-id", "public-cli", "--server", "https://k:6443")
    assert ok.returncode == 0 and "redirect URI" not in ok.stderr  # the harness's clients
    data = yaml.safe_load(config.read_text())  # ... have http://127.0.0.1:5555/callback
    data["staticClients"][1]["redirectURIs"] = ["https://app.example/cb"]
    config.write_text(yaml.safe_dump(data))
    warned = _setup(config, "--client-id", "public-cli", "--server", "https://k:6443")
    assert warned.returncode == 0
    assert "has no redirect URI 'http://127.0.0.1/callback'" in warned.stderr
