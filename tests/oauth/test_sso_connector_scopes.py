"""A session answers a request for connector scopes its login did not ask for (``groups``,
``offline_access``) only after re-reading the identity from the connector; when the connector
cannot, the user logs in again. A token never silently lacks a requested claim."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from dex_py.jose import tokens
from tests.oauth.conftest import (
    BASE_CONFIG,
    ISSUER,
    REDIRECT,
    App,
    approve_page,
    auth_params,
    authorize,
    code_from,
    login_password,
    redeem,
)


def id_token_claims(app: App, browser: FlaskClient, resp: Any) -> dict[str, Any]:
    token = redeem(browser, code_from(resp)["code"]).json["id_token"]
    return tokens.verify(app.svc.keys, token, issuer=ISSUER, audience=None, clock=app.clock)


def test_live_session_fetches_groups_when_a_request_needs_them(app: App) -> None:
    browser = app.client()
    login = login_password(browser, auth_params(scope="openid email"))
    first = id_token_claims(app, browser, login)
    assert "groups" not in first
    [session] = app.storage.list_sessions()
    assert session.connector_scopes == () and session.claims.groups == ()

    resp = authorize(browser, scope="openid email groups")
    assert resp.status_code == 303 and "/dex/approval?" in resp.headers["Location"]  # new scope
    claims = id_token_claims(app, browser, approve_page(browser, resp.headers["Location"]))
    assert claims["groups"] == ["admins"]
    assert claims["sid"] == first["sid"] and claims["auth_time"] == first["auth_time"]  # no login
    [session] = app.storage.list_sessions()
    assert session.connector_scopes == ("groups",) and session.claims.groups == ("admins",)
    # and from then on the session carries them
    again = authorize(browser, scope="openid groups", prompt="none")
    assert id_token_claims(app, browser, again)["groups"] == ["admins"]


def test_connector_that_cannot_re_read_makes_the_user_log_in_again(
    make_app: Callable[..., App],
) -> None:
    connectors = [
        {
            "type": "mockPassword",
            "id": "mock-pw",
            "name": "Mock password",
            "config": {"username": "kilgore", "password": "trout-password"},
        }
    ]
    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[0]["skipApproval"] = True
    app = make_app(
        connectors=connectors,
        enablePasswordDB=False,
        oauth2={"passwordConnector": "mock-pw"},
        staticClients=clients,
    )
    browser = app.client()
    start = authorize(browser, scope="openid email")
    form_url = start.headers["Location"]
    assert "/dex/auth/mock-pw" in form_url
    form = browser.get(form_url.replace("http://127.0.0.1:5556", ""))
    while form.status_code == 302:
        form_url = form.headers["Location"]
        form = browser.get(form_url.replace("http://127.0.0.1:5556", ""))
    html = form.get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
    done = browser.post(
        form_url.replace("http://127.0.0.1:5556", ""),
        data={"login": "kilgore", "password": "trout-password", "csrf_token": csrf},
    )
    assert done.headers["Location"].startswith(REDIRECT + "?code=")
    assert authorize(browser, scope="openid email").headers["Location"].startswith(REDIRECT)

    wider = authorize(browser, scope="openid email groups")
    assert "/dex/auth/mock-pw" in wider.headers["Location"]  # back to the login, no code
    silent = code_from(authorize(browser, scope="openid email groups", prompt="none"))
    assert silent["error"] == "login_required"
    offline = authorize(browser, scope="openid email offline_access")
    assert "/dex/auth/mock-pw" in offline.headers["Location"]
