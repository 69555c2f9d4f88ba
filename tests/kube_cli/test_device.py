"""The device flow's client side (RFC 8628 §3.4-3.5). The issuer's device endpoints are being
built separately, so the polling rules are checked here against a scripted token endpoint
(no network: ``Issuer.token`` replaced), and against the live dex-py only for what it already
does: ``auto`` without a browser picks the device flow, and a missing endpoint is a clear error.
The end-to-end device login is added with the server side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dex_py.kubelogin import device
from dex_py.kubelogin.errors import LoginError, OAuthError
from dex_py.kubelogin.oidc import Issuer
from tests.kube_cli.helpers import EXEC_INFO_INTERACTIVE, login_args, plugin_env, run_login
from tests.live import PUBLIC_CLIENT_ID


class ScriptedIssuer(Issuer):
    """Answers token requests from a script: an error code, or a token response."""

    def __init__(self, script: list[str | dict[str, Any]]) -> None:
        super().__init__("http://127.0.0.1:9/dex", "cli")
        self.script = script
        self.requests: list[dict[str, str]] = []

    def token(self, params: dict[str, str]) -> dict[str, Any]:
        self.requests.append(params)
        step = self.script.pop(0)
        if isinstance(step, str):
            raise OAuthError(step)
        return step


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


ANSWER = {"device_code": "dc", "user_code": "BCDF-GHJK", "verification_uri": "http://x/device"}
TOKENS = {"id_token": "a.b.c", "token_type": "bearer"}


def _poll(script: list[str | dict[str, Any]], **answer: Any) -> tuple[Any, Clock, ScriptedIssuer]:
    issuer, clock = ScriptedIssuer(script), Clock()
    result = device.poll(issuer, {**ANSWER, **answer}, sleep=clock.sleep, clock=clock)
    return result, clock, issuer


def test_pending_then_success_polls_at_the_interval() -> None:
    result, clock, issuer = _poll(["authorization_pending", "authorization_pending", TOKENS])
    assert result == TOKENS
    assert clock.sleeps == [5, 5, 5]  # the default interval when the server names none
    assert issuer.requests[0] == {"grant_type": device.GRANT_TYPE, "device_code": "dc"}


def test_slow_down_adds_five_seconds_for_good() -> None:
    _, clock, _ = _poll(["slow_down", "authorization_pending", "slow_down", TOKENS], interval=2)
    assert clock.sleeps == [2, 7, 7, 12]


@pytest.mark.parametrize(
    ("error", "message"),
    [("expired_token", "device code expired"), ("access_denied", "refused in the browser")],
)
def test_final_errors_end_the_login(error: str, message: str) -> None:
    with pytest.raises(LoginError, match=message):
        _poll(["authorization_pending", error])


def test_an_unknown_error_is_reported_as_is() -> None:
    with pytest.raises(OAuthError, match="invalid_client"):
        _poll(["invalid_client"])


def test_the_code_lifetime_bounds_the_polling() -> None:
    with pytest.raises(LoginError, match="expired before the login finished"):
        _poll(["authorization_pending"] * 10, expires_in=12, interval=5)


def test_show_prints_the_code_and_both_uris(capsys: pytest.CaptureFixture[str]) -> None:
    device.show({**ANSWER, "verification_uri_complete": "http://x/device?user_code=BCDFGHJK"})
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "http://x/device" in captured.err and "BCDF-GHJK" in captured.err
    assert "http://x/device?user_code=BCDFGHJK" in captured.err


@pytest.mark.live
def test_auto_without_a_browser_uses_the_device_flow(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    env = plugin_env(tmp_path, KUBERNETES_EXEC_INFO=EXEC_INFO_INTERACTIVE)
    run = run_login(login_args(server, PUBLIC_CLIENT_ID, tmp_path / "c"), env)
    assert json.loads(EXEC_INFO_INTERACTIVE)["spec"]["interactive"] is True
    # The issuer advertises no device_authorization_endpoint yet: Dex's path is tried, and
    # its absence is one clear line.
    assert run.returncode == 1 and run.stdout == ""
    assert f"device authorization at {server.issuer}/device/code failed" in run.stderr
