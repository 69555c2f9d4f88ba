"""``dex-py kube login`` with the device flow (RFC 8628) against a live dex-py: the plugin shows
the user code and URL on stderr, the user's side is done over HTTP (the normal password login
and approval) or in a real Chromium, and stdout is an ExecCredential whose token verifies.
Also: an issuer without the grant, a refusal, and ``interactive: false``, which must never
start a device flow."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dex_py.config import DEVICE_CODE_GRANT
from tests.chromium import CHROMIUM, chromium
from tests.device.conftest import browser_login, device_rows
from tests.kube_cli.fake_apiserver import FakeAPIServer
from tests.kube_cli.helpers import (
    EXEC_INFO_INTERACTIVE,
    KUBECTL,
    DevicePrompt,
    cluster,
    device_prompt,
    exec_credential,
    login_args,
    plugin_env,
    run_interactive,
    run_login,
)
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, PUBLIC_CLIENT_ID, LiveServer, verify_id_token
from tests.services import missing_service
from tests.tls import CAFiles

pytestmark = [pytest.mark.live, pytest.mark.slow]

DEVICE_ON = {
    "oauth2": {"grantTypes": ["authorization_code", "refresh_token", "password", DEVICE_CODE_GRANT]}
}
EXEC_INFO_NOT_INTERACTIVE = json.dumps(
    {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
)


def _device_login(
    server: LiveServer, tmp_path: Path, grant: str, act: Any
) -> tuple[subprocess.CompletedProcess[str], list[DevicePrompt]]:
    """Run the plugin (``--grant-type grant``, no desktop) and ``act(prompt)`` as the user."""
    prompts: list[DevicePrompt] = []

    def user_side(prompt: DevicePrompt) -> None:
        prompts.append(prompt)
        act(prompt)

    env = plugin_env(tmp_path, KUBERNETES_EXEC_INFO=EXEC_INFO_INTERACTIVE)
    args = login_args(server, PUBLIC_CLIENT_ID, tmp_path / "cache", "--grant-type", grant)
    return run_interactive(args, env, device_prompt, user_side), prompts


def _check_credential(server: LiveServer, run: subprocess.CompletedProcess[str]) -> str:
    cred = exec_credential(run)
    assert cred["apiVersion"] == "client.authentication.k8s.io/v1"
    assert cred["kind"] == "ExecCredential"
    token: str = cred["status"]["token"]
    claims = verify_id_token(server.issuer, token, audience=PUBLIC_CLIENT_ID)
    assert claims["email"] == ADMIN_EMAIL
    assert cred["status"]["expirationTimestamp"].endswith("Z")
    return token


@pytest.mark.parametrize("grant", ["device-code", "auto"])
def test_device_login_over_http(kube_issuer: Any, tmp_path: Path, grant: str) -> None:
    """``auto`` picks the device flow here: plugin_env has no DISPLAY (no browser can open)."""
    server = kube_issuer(DEVICE_ON)

    def approve(prompt: DevicePrompt) -> None:
        page = browser_login(server, prompt.user_code)
        assert page.status_code == 200 and "close this window" in page.text

    run, prompts = _device_login(server, tmp_path, grant, approve)
    token = _check_credential(server, run)
    (prompt,) = prompts
    # the endpoint discovery names, and the URIs its answer gave, shown on stderr only
    assert prompt.verification_uri == server.url("/device")
    assert prompt.verification_uri_complete == (
        f"{server.url('/device')}?user_code={prompt.user_code}"
    )
    assert prompt.user_code not in run.stdout
    # the login is cached with its refresh token: the next (non-interactive) run needs no user
    again = run_login(
        login_args(server, PUBLIC_CLIENT_ID, tmp_path / "cache"),
        plugin_env(tmp_path, KUBERNETES_EXEC_INFO=EXEC_INFO_NOT_INTERACTIVE),
    )
    assert exec_credential(again)["status"]["token"] == token


@pytest.mark.browser
def test_device_login_in_chromium(kube_issuer: Any, tmp_path: Path) -> None:
    """The user opens ``verification_uri_complete`` (the code is pre-filled) in Chromium."""
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    server = kube_issuer(DEVICE_ON)

    def in_chromium(prompt: DevicePrompt) -> None:
        with chromium() as browser:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(prompt.verification_uri_complete)
            assert page.input_value("#user_code") == prompt.user_code
            page.click("#submit-code")
            page.click('a[href*="/auth/local"]')
            page.fill("#login", ADMIN_EMAIL)
            page.fill("#password", ADMIN_PASSWORD)
            page.click("#submit-login")
            page.wait_for_url(server.url("/approval") + "**")
            page.click('button[name="approval"][value="approve"]')
            page.wait_for_selector("#device-approved")

    run, _ = _device_login(server, tmp_path, "device-code", in_chromium)
    _check_credential(server, run)


def test_a_refusal_ends_the_login(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer(DEVICE_ON)
    run, _ = _device_login(
        server,
        tmp_path,
        "device-code",
        lambda p: browser_login(server, p.user_code, approval="rejected"),
    )
    assert run.returncode == 1 and run.stdout == ""
    assert "dex-py kube login: error: the login was refused in the browser" in run.stderr


def test_an_issuer_without_the_device_grant_is_a_clear_error(
    kube_issuer: Any, tmp_path: Path
) -> None:
    server = kube_issuer()  # oauth2.grantTypes without the device code grant
    env = plugin_env(tmp_path, KUBERNETES_EXEC_INFO=EXEC_INFO_INTERACTIVE)
    args = login_args(server, PUBLIC_CLIENT_ID, tmp_path / "c", "--grant-type", "device-code")
    run = run_login(args, env)
    assert run.returncode == 1 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert lines == [
        f"dex-py kube login: error: the issuer {server.issuer} does not advertise a "
        "device_authorization_endpoint: its device code grant is off (oauth2.grantTypes); "
        "use --grant-type authcode or password"
    ]
    # no guess at a path: the issuer never saw a device authorization request
    assert "/device/code" not in server.log_text()


@pytest.mark.parametrize("grant", ["device-code", "auto"])
def test_not_interactive_never_starts_a_device_flow(
    kube_issuer: Any, tmp_path: Path, grant: str
) -> None:
    server = kube_issuer(DEVICE_ON)
    env = plugin_env(tmp_path, KUBERNETES_EXEC_INFO=EXEC_INFO_NOT_INTERACTIVE)
    args = login_args(server, PUBLIC_CLIENT_ID, tmp_path / "c", "--grant-type", grant)
    try:
        run = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the plugin waited for a user although kubectl said interactive: false")
    assert run.returncode == 1 and run.stdout == ""
    assert "runs this plugin non-interactively (interactive: false)" in run.stderr
    assert device_rows(server) == []  # no device code was even requested


def test_kubectl_with_the_device_flow(
    kube_issuer: Any, fake_apiserver: FakeAPIServer, api_ca: CAFiles, tmp_path: Path
) -> None:
    """Real kubectl on a terminal (``interactiveMode: IfAvailable`` then says interactive) runs
    the plugin, whose device prompt reaches kubectl's stderr; the API server's go-oidc
    verifier accepts the token once the user approved."""
    server = kube_issuer(DEVICE_ON)
    kubeconfig, _ = cluster(
        server, fake_apiserver, api_ca, tmp_path, PUBLIC_CLIENT_ID, "--grant-type", "device-code"
    )
    leader, terminal = pty.openpty()
    try:
        run = run_interactive(
            [KUBECTL, "--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "json"],
            plugin_env(tmp_path),
            device_prompt,
            lambda prompt: browser_login(server, prompt.user_code),
            stdin=terminal,
        )
    finally:
        os.close(terminal)
        os.close(leader)
    assert run.returncode == 0, run.stderr
    user = json.loads(run.stdout)["status"]["userInfo"]
    assert user["username"] == f"oidc:{ADMIN_EMAIL}"
    assert fake_apiserver.tokens and verify_id_token(
        server.issuer, fake_apiserver.tokens[-1], audience=PUBLIC_CLIENT_ID
    )
