"""Single sign-on sessions: prompt, max_age, id_token_hint, sid (OIDC Core §3.1.2.1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient

from dex_py.config import ConfigError
from dex_py.config.session import SessionPolicy
from dex_py.jose import tokens
from dex_py.oauth.sessions import COOKIE
from tests.oauth.conftest import (
    CLIENT_ID,
    ISSUER,
    REDIRECT,
    App,
    auth_params,
    authorize,
    code_from,
    login_password,
    redeem,
)


def first_login(app: App, **params: str) -> tuple[FlaskClient, dict[str, Any]]:
    browser = app.client()
    code = code_from(login_password(browser, auth_params(**params)))["code"]
    return browser, redeem(browser, code).json


def redirect_params(resp: Any) -> dict[str, str]:
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}


def id_claims(app: App, token: str) -> dict[str, Any]:
    return tokens.verify(app.svc.keys, token, issuer=ISSUER, audience=CLIENT_ID, clock=app.clock)


def session_cookie(browser: FlaskClient) -> str:
    cookie = browser.get_cookie(COOKIE, path="/dex")
    assert cookie is not None
    return cookie.value


def test_second_authorization_uses_the_session(app: App) -> None:
    browser, first = first_login(app)
    resp = authorize(browser)
    assert resp.headers["Location"].startswith(REDIRECT)  # no form, no approval
    code = redirect_params(resp)["code"]
    second = redeem(browser, code).json
    a, b = id_claims(app, first["id_token"]), id_claims(app, second["id_token"])
    assert a["sub"] == b["sub"]
    assert a["sid"] == b["sid"]
    assert a["auth_time"] == b["auth_time"]


def test_prompt_none_without_session_is_login_required(app: App) -> None:
    params = redirect_params(authorize(app.client(), prompt="none"))
    assert params["error"] == "login_required"


def test_prompt_none_with_session_issues_a_code(app: App) -> None:
    browser, _ = first_login(app)
    params = redirect_params(authorize(browser, prompt="none"))
    assert "code" in params and "error" not in params


def test_prompt_none_for_an_unapproved_client_is_consent_required(app: App) -> None:
    browser, _ = first_login(app)
    resp = browser.get(
        "/dex/auth?"
        + urlencode(
            auth_params(
                client_id="peer-app", redirect_uri="http://127.0.0.1:5999/cb", prompt="none"
            )
        )
    )
    assert redirect_params(resp)["error"] == "consent_required"


def test_unapproved_client_gets_the_approval_page_without_login(app: App) -> None:
    browser, _ = first_login(app)
    resp = browser.get(
        "/dex/auth?"
        + urlencode(auth_params(client_id="peer-app", redirect_uri="http://127.0.0.1:5999/cb"))
    )
    assert resp.status_code == 303 and "/dex/approval?" in resp.headers["Location"]


def test_prompt_login_forces_a_new_login(app: App) -> None:
    browser, _ = first_login(app)
    old = session_cookie(browser)
    resp = authorize(browser, prompt="login")
    assert "/auth/" in resp.headers.get("Location", "") or resp.status_code == 200
    code = code_from(login_password(browser, auth_params(prompt="login")))["code"]
    assert redeem(browser, code).status_code == 200
    assert session_cookie(browser) != old  # a fresh session id after a fresh login


def test_prompt_consent_shows_approval_again(app: App) -> None:
    browser, _ = first_login(app)
    resp = authorize(browser, prompt="consent")
    assert resp.status_code == 303 and "/dex/approval?" in resp.headers["Location"]


def test_max_age(app: App) -> None:
    browser, first = first_login(app)
    auth_time = id_claims(app, first["id_token"])["auth_time"]
    app.clock.advance(seconds=30)
    reused = authorize(browser, max_age="10000")
    assert reused.headers["Location"].startswith(REDIRECT)
    fresh = authorize(browser, max_age="1")
    assert not fresh.headers.get("Location", "").startswith(REDIRECT)
    code = code_from(login_password(browser, auth_params(max_age="1")))["code"]
    claims = id_claims(app, redeem(browser, code).json["id_token"])
    assert claims["auth_time"] > auth_time


def test_id_token_hint(app: App) -> None:
    browser, first = first_login(app)
    same = authorize(browser, prompt="none", id_token_hint=first["id_token"])
    assert "code" in redirect_params(same)
    bad = authorize(browser, prompt="none", id_token_hint="not-a-token")
    assert redirect_params(bad)["error"] == "invalid_request"


def test_id_token_hint_for_another_user(app: App) -> None:
    other_browser = app.client()
    resp = other_browser.get("/dex/auth?" + urlencode(auth_params(connector_id="mock")))
    while resp.status_code in (302, 303) and not resp.headers["Location"].startswith(REDIRECT):
        resp = other_browser.get(resp.headers["Location"].replace("http://127.0.0.1:5556", ""))
        if resp.status_code == 200 and b'name="req"' in resp.data:
            from tests.oauth.conftest import approve_page

            resp = approve_page(other_browser, resp.request.url)
    kilgore = redeem(other_browser, redirect_params(resp)["code"]).json["id_token"]
    browser, _ = first_login(app)
    resp = authorize(browser, prompt="none", id_token_hint=kilgore)
    assert redirect_params(resp)["error"] == "login_required"


def test_expired_id_token_hint_is_accepted(app: App) -> None:
    browser, first = first_login(app)
    app.clock.advance(hours=25)  # ID token expired; session still within... use a long policy
    resp = authorize(browser, id_token_hint=first["id_token"])
    assert resp.status_code != 400 and "invalid_request" not in resp.headers.get("Location", "")


def test_session_expires_when_idle(app: App) -> None:
    browser, _ = first_login(app)
    app.clock.advance(hours=9)  # default idle timeout 8h
    assert redirect_params(authorize(browser, prompt="none"))["error"] == "login_required"


def test_session_absolute_lifetime(make_app: Callable[..., App]) -> None:
    app = make_app(session={"idleTimeout": "1h", "absoluteLifetime": "2h"})
    browser, _ = first_login(app)
    for _ in range(3):
        app.clock.advance(minutes=35)  # each use keeps the 1h idle timeout at bay
        assert "code" in redirect_params(authorize(browser, prompt="none"))
    app.clock.advance(minutes=20)  # 2h05m after login: past the absolute lifetime
    assert redirect_params(authorize(browser, prompt="none"))["error"] == "login_required"


def test_sessions_can_be_disabled(make_app: Callable[..., App]) -> None:
    app = make_app(session={"enabled": False})
    browser, _ = first_login(app)
    assert redirect_params(authorize(browser, prompt="none"))["error"] == "login_required"


def test_forged_session_cookie_is_ignored(app: App) -> None:
    browser, _ = first_login(app)
    session_id = session_cookie(browser).split(".")[0]
    attacker = app.client()
    attacker.set_cookie(COOKIE, f"{session_id}.forged-secret", path="/dex")
    assert redirect_params(authorize(attacker, prompt="none"))["error"] == "login_required"


def test_session_cookie_attributes(app: App) -> None:
    browser = app.client()
    resp = login_password(browser, auth_params())
    assert resp.status_code == 303
    cookies = [c for c in browser._cookies.values() if c.key == COOKIE]
    assert cookies and cookies[0].path == "/dex" and cookies[0].http_only
    assert cookies[0].same_site == "Lax"


def test_session_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        SessionPolicy.from_config({"idleTimeout": "soon", "colour": 1, "enabled": "yes"})
    paths = sorted(p for p, _ in info.value.errors)
    assert paths == ["session.colour", "session.enabled", "session.idleTimeout"]
    assert SessionPolicy.from_config({"idleTimeout": "2h"}).idle_timeout == timedelta(hours=2)
