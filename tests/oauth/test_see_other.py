"""Every redirect that answers a POST is ``303 See Other`` (RFC 9700 §4.12.2), so the browser
never re-sends the form (credentials included) to the target; redirects answering a GET stay
``302``."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from tests.logout.conftest import LOGOUT_REDIRECT, clients_config, log_in
from tests.oauth.conftest import (
    REDIRECT,
    App,
    auth_params,
    login_password,
    open_password_form,
    path_of,
    submit_password,
)


def test_password_post_redirects_to_approval_with_303(app: App) -> None:
    browser = app.client()
    form_url, html = open_password_form(browser, auth_params())
    resp = submit_password(browser, form_url, html, "admin@example.com", "password")
    assert resp.status_code == 303 and "/dex/approval?" in resp.headers["Location"]


def test_approval_post_redirects_with_303_both_ways(app: App) -> None:
    approved = login_password(app.client(), auth_params())
    assert approved.status_code == 303
    assert approved.headers["Location"].startswith(REDIRECT + "?code=")
    denied = login_password(app.client(), auth_params(), approve=False)
    assert denied.status_code == 303
    assert "error=access_denied" in denied.headers["Location"]


def test_authorization_by_post_redirects_with_303(app: App) -> None:
    browser = app.client()
    to_connector = browser.post("/dex/auth", data=auth_params(connector_id="local"))
    assert to_connector.status_code == 303
    assert "/dex/auth/local?req=" in to_connector.headers["Location"]
    error = browser.post("/dex/auth", data=auth_params(response_type="token"))
    assert error.status_code == 303 and "error=" in error.headers["Location"]
    login_password(browser, auth_params())  # now there is a session: SSO answers at once
    answered = browser.post("/dex/auth", data=auth_params())
    assert answered.status_code == 303
    assert answered.headers["Location"].startswith(REDIRECT + "?code=")


def test_connector_start_by_post_redirects_with_303(app: App) -> None:
    resp = app.client().post("/dex/auth/local", data=auth_params())
    assert resp.status_code == 303
    assert "/dex/auth/local/login?state=" in resp.headers["Location"]


def test_callback_by_post_redirects_with_303(make_app: Callable[..., App]) -> None:
    app = make_app(oauth2={"skipApprovalScreen": True})
    browser = app.client()
    resp = browser.get("/dex/auth?" + urlencode(auth_params(connector_id="mock")))
    resp = browser.get(path_of(resp.headers["Location"]))
    assert resp.status_code == 302 and "/dex/callback?" in resp.headers["Location"]
    callback = path_of(resp.headers["Location"])
    path, _, query = callback.partition("?")
    done = browser.post(path, data=dict(p.split("=", 1) for p in query.split("&")))
    assert done.status_code == 303
    assert done.headers["Location"].startswith(REDIRECT + "?code=")


def test_logout_by_post_redirects_with_303(make_app: Callable[..., App]) -> None:
    """(The confirmation form's POST: ``test_confirmation_yes_with_csrf_logs_out_and_redirects``;
    the password POST with approval skipped: ``test_skip_approval_screen``.)"""
    app = make_app(staticClients=clients_config())
    browser, tokens = log_in(app)
    posted = browser.post(
        "/dex/logout",
        data={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_REDIRECT},
    )
    assert posted.status_code == 303 and posted.headers["Location"] == LOGOUT_REDIRECT


def test_redirects_answering_a_get_stay_302(app: App) -> None:
    browser = app.client()
    resp = browser.get("/dex/auth?" + urlencode(auth_params(connector_id="local")))
    assert resp.status_code == 302
    login_password(browser, auth_params())
    answered = browser.get("/dex/auth?" + urlencode(auth_params()))
    assert answered.status_code == 302
    assert answered.headers["Location"].startswith(REDIRECT + "?code=")
