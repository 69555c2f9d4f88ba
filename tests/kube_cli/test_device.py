"""The device flow, client side (RFC 8628 §3.1-3.5): the authorization request goes only to the
endpoint discovery names (§4), and the polling rules are checked against a scripted token
endpoint (``Issuer.token`` replaced): intervals, ``slow_down``, the final errors and the code's
lifetime, timings a live server would make slow to exercise. The end-to-end device login
against a live dex-py is in ``test_device_live``."""

from __future__ import annotations

from typing import Any

import pytest

from dex_py.kubelogin import device
from dex_py.kubelogin.errors import LoginError, OAuthError
from dex_py.kubelogin.oidc import Issuer


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


class FormRecorder(Issuer):
    """An issuer whose discovery document is given and whose form posts are recorded."""

    def __init__(self, meta: dict[str, Any]) -> None:
        super().__init__("http://127.0.0.1:9/dex", "cli", _meta=meta)
        self.posted: list[tuple[str, dict[str, str]]] = []

    def post_form(self, url: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.posted.append((url, params))
        return 200, dict(ANSWER)


def test_start_asks_the_endpoint_discovery_names() -> None:
    elsewhere = "http://127.0.0.1:9/elsewhere/device_authorization"
    issuer = FormRecorder({"device_authorization_endpoint": elsewhere})
    assert device.start(issuer, ["openid", "groups"]) == ANSWER
    assert issuer.posted == [(elsewhere, {"scope": "openid groups"})]


def test_start_without_the_endpoint_guesses_no_path() -> None:
    issuer = FormRecorder({"token_endpoint": "http://127.0.0.1:9/dex/token"})
    with pytest.raises(LoginError, match="does not advertise a device_authorization_endpoint"):
        device.start(issuer, ["openid"])
    assert issuer.posted == []
