"""``dex-py kube login`` as kubectl runs it, against a live dex-py: the authcode flow through
the loopback redirect, the password grant, the cache (reuse, refresh, revoked refresh, modes),
``interactive: false`` and logout."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from tests.kube_cli.helpers import (
    authcode_login,
    exec_credential,
    http_login,
    login_args,
    password_args,
    plugin_env,
    run_login,
)
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    PUBLIC_CLIENT_ID,
    verify_id_token,
)

pytestmark = [pytest.mark.live, pytest.mark.slow]
LOGGED_IN = "dex-py kube login: logged in to"
V1BETA1_INFO = json.dumps(
    {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
)


def test_authcode_login_over_the_loopback_redirect(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    cache = tmp_path / "cache"
    args = login_args(server, PUBLIC_CLIENT_ID, cache)
    run, stderr = authcode_login(args, plugin_env(tmp_path))
    cred = exec_credential(run)
    assert cred["apiVersion"] == "client.authentication.k8s.io/v1"
    assert cred["kind"] == "ExecCredential"
    claims = verify_id_token(server.issuer, cred["status"]["token"], audience=PUBLIC_CLIENT_ID)
    assert claims["email"] == ADMIN_EMAIL
    assert set(claims["groups"]) >= {"admins", "developers"}
    expires = cred["status"]["expirationTimestamp"]
    assert expires == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"]))
    assert "code_challenge_method=S256" in stderr and LOGGED_IN in stderr
    # Cache: directory 0700, entry 0600, and the next call answers from it without a login.
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    entries = list(cache.glob("*.json"))
    assert len(entries) == 1 and stat.S_IMODE(entries[0].stat().st_mode) == 0o600
    assert [p for p in cache.iterdir() if p.suffix == ".tmp"] == []
    again = run_login(args, plugin_env(tmp_path, KUBERNETES_EXEC_INFO=V1BETA1_INFO))
    cred2 = exec_credential(again)
    assert cred2["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert cred2["status"]["token"] == cred["status"]["token"]
    assert again.stderr == ""


def test_a_redirect_with_another_state_is_not_redeemed(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    forged: list[int] = []

    def forge(callback: str) -> None:
        parts = urlsplit(callback)
        query = parse_qs(parts.query)
        bad = f"code={query['code'][0]}&state=attacker-state"
        answer = requests.get(urlunsplit(parts._replace(query=bad)), timeout=10)
        forged.append(answer.status_code)

    run, _ = authcode_login(
        login_args(server, PUBLIC_CLIENT_ID, tmp_path / "c"), plugin_env(tmp_path), before=forge
    )
    assert forged == [400]
    # The real redirect was still accepted: the forged one neither ended nor used the login.
    exec_credential(run)


def test_a_cache_dir_with_loose_modes_is_tightened(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)
    exec_credential(run_login(password_args(server, cache), plugin_env(tmp_path)))
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in cache.iterdir())


def test_an_expiring_token_is_refreshed_silently(kube_issuer: Any, tmp_path: Path) -> None:
    # ID tokens live 33 s: fresh ones are handed out from the cache for ~3 s, then refreshed.
    server = kube_issuer({"expiry": {"idTokens": "33s"}})
    args = password_args(server, tmp_path / "cache")
    env = plugin_env(tmp_path)
    first = run_login(args, env)
    token = exec_credential(first)["status"]["token"]
    assert first.stderr.count(LOGGED_IN) == 1
    assert exec_credential(run_login(args, env))["status"]["token"] == token
    time.sleep(4)
    later = run_login(args, env)
    refreshed = exec_credential(later)["status"]["token"]
    assert refreshed != token
    assert later.stderr == ""  # no login, no prompt
    claims = verify_id_token(server.issuer, refreshed, audience=EXAMPLE_CLIENT_ID)
    assert claims["email"] == ADMIN_EMAIL


def test_a_revoked_refresh_token_falls_back_to_a_login(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer({"expiry": {"idTokens": "20s"}})  # never fresh enough: always refresh
    cache = tmp_path / "cache"
    args = login_args(server, PUBLIC_CLIENT_ID, cache)
    env = plugin_env(tmp_path)
    run, _ = authcode_login(args, env)
    first = exec_credential(run)["status"]["token"]
    # Silently refreshed while the refresh token is good (interactive: false is fine then).
    quiet = run_login(args, plugin_env(tmp_path, KUBERNETES_EXEC_INFO=V1BETA1_INFO))
    assert exec_credential(quiet)["status"]["token"] != first and quiet.stderr == ""
    (entry,) = cache.glob("*.json")
    refresh_token = json.loads(entry.read_text())["refresh_token"]
    revoked = requests.post(
        server.url("/token/revoke"),
        data={"token": refresh_token, "client_id": PUBLIC_CLIENT_ID},
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text
    # Not interactive: the refresh fails and the plugin may not ask, so it fails clearly.
    refused = run_login(args, plugin_env(tmp_path, KUBERNETES_EXEC_INFO=V1BETA1_INFO))
    assert refused.returncode == 1 and refused.stdout == ""
    assert "refresh token was not accepted (invalid_grant)" in refused.stderr
    assert "interactive: false" in refused.stderr
    # Interactive: the user is asked to log in again, and that works.
    again, stderr = authcode_login(args, env)
    assert stderr.count(LOGGED_IN) == 1
    exec_credential(again)


def test_not_interactive_without_a_cached_token_fails_clearly(
    kube_issuer: Any, tmp_path: Path
) -> None:
    server = kube_issuer()
    env = plugin_env(tmp_path, KUBERNETES_EXEC_INFO=V1BETA1_INFO)
    run = run_login(login_args(server, PUBLIC_CLIENT_ID, tmp_path / "c"), env)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("dex-py kube login: error: no valid cached token")
    assert "Traceback" not in run.stderr
    # The password grant without credentials may not prompt either.
    no_password = password_args(server, tmp_path / "c", credentials=False)
    run = run_login(no_password, env)
    assert run.returncode == 1
    assert "needs --username and --password when it cannot prompt" in run.stderr


def test_the_password_grant_needs_a_client_secret(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    args = login_args(
        server,
        PUBLIC_CLIENT_ID,
        tmp_path / "c",
        "--grant-type",
        "password",
        "--username",
        ADMIN_EMAIL,
        "--password",
        ADMIN_PASSWORD,
    )
    run = run_login(args, plugin_env(tmp_path))
    assert run.returncode == 1 and run.stdout == ""
    assert "needs a confidential client: pass --client-secret" in run.stderr
    wrong = password_args(server, tmp_path / "c")
    wrong[wrong.index("--password") + 1] = "not-the-password"
    run = run_login(wrong, plugin_env(tmp_path))
    assert run.returncode == 1 and "invalid_grant" in run.stderr
    assert "not-the-password" not in run.stderr


def test_logout_empties_the_cache(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    cache = tmp_path / "cache"
    args = password_args(server, cache)
    exec_credential(run_login(args, plugin_env(tmp_path)))
    assert list(cache.glob("*.json"))
    out = run_login(
        [args[0], "kube", "logout", "--token-cache-dir", str(cache)], plugin_env(tmp_path)
    )
    assert out.returncode == 0 and out.stdout == ""
    assert "removed 1 cached login" in out.stderr
    assert list(cache.iterdir()) == []
    again = run_login(args, plugin_env(tmp_path))
    assert again.stderr.count(LOGGED_IN) == 1  # a new login, not the old tokens
    exec_credential(again)


def test_bad_exec_info_and_unreachable_issuer_are_one_line_errors(tmp_path: Path) -> None:
    from tests.kube_cli.helpers import DEX_PY

    args = [
        DEX_PY,
        "kube",
        "login",
        "--issuer",
        "http://127.0.0.1:1/dex",
        "--client-id",
        "x",
        "--token-cache-dir",
        str(tmp_path / "c"),
    ]
    bad = run_login(args, plugin_env(tmp_path, KUBERNETES_EXEC_INFO='{"apiVersion": "v9"}'))
    assert bad.returncode == 1 and "supported: client.authentication.k8s.io/v1" in bad.stderr
    down = run_login(
        [
            *args,
            "--grant-type",
            "password",
            "--client-secret",
            "s",
            "--username",
            "u",
            "--password",
            "p",
        ],
        plugin_env(tmp_path),
    )
    assert down.returncode == 1 and down.stdout == ""
    assert "cannot reach http://127.0.0.1:1/dex" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1


def test_an_https_issuer_with_a_private_ca(
    kube_issuer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.services import free_port
    from tests.tls import make_test_ca

    ca = make_test_ca(tmp_path / "ca")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.ca_pem))  # for the harness's health check
    port = free_port()
    server = kube_issuer(
        {
            "issuer": f"https://127.0.0.1:{port}/dex",
            "web": {
                "http": None,
                "https": f"127.0.0.1:{port}",
                "tlsCert": str(ca.cert_pem),
                "tlsKey": str(ca.key_pem),
            },
        },
        port=port,
    )
    args = password_args(server, tmp_path / "cache")
    env = plugin_env(tmp_path)
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("SSL_CERT_FILE", None)
    untrusted = run_login(args, env)
    assert untrusted.returncode == 1 and untrusted.stdout == ""
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    assert len(untrusted.stderr.strip().splitlines()) == 1
    trusted = run_login([*args, "--certificate-authority", str(ca.ca_pem)], env)
    token = exec_credential(trusted)["status"]["token"]
    assert verify_id_token(server.issuer, token, audience=EXAMPLE_CLIENT_ID)["email"] == (
        ADMIN_EMAIL
    )
    other_cache = [a if a != str(tmp_path / "cache") else str(tmp_path / "c2") for a in args]
    insecure = run_login([*other_cache, "--insecure-skip-tls-verify"], env)
    exec_credential(insecure)


def test_an_id_token_for_another_nonce_is_refused(kube_issuer: Any, tmp_path: Path) -> None:
    """A code minted for another authorization request (same PKCE challenge and state, another
    nonce: what an attacker who saw the URL could inject) redeems, but its ID token is refused."""
    server = kube_issuer()

    def other_request(url: str) -> None:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["nonce"] = "the-attackers-nonce"
        http_login(urlunsplit(parts._replace(query=urlencode(query))))

    run, stderr = authcode_login(
        login_args(server, PUBLIC_CLIENT_ID, tmp_path / "c"),
        plugin_env(tmp_path),
        complete=other_request,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert "the ID token's nonce does not match this login" in stderr
    assert list((tmp_path / "c").glob("*.json")) == []


def test_an_unreachable_issuer_keeps_the_refresh_token(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer({"expiry": {"idTokens": "20s"}})  # never fresh enough: always refresh
    cache = tmp_path / "cache"
    args = password_args(server, cache)
    exec_credential(run_login(args, plugin_env(tmp_path)))
    (entry,) = cache.glob("*.json")
    before = json.loads(entry.read_text())
    server.stop()
    failed = run_login(args, plugin_env(tmp_path))
    assert failed.returncode == 1 and failed.stdout == ""
    assert f"cannot reach {server.issuer}" in failed.stderr
    assert json.loads(entry.read_text()) == before  # still there for when the issuer is back
