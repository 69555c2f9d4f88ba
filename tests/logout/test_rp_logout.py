"""RP-Initiated Logout 1.0: the ``/logout`` endpoint, its checks and the confirmation form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask.testing import FlaskClient

from dex_py.oauth.sessions import COOKIE
from tests.logout.conftest import LOGOUT_REDIRECT, log_in, sid_of
from tests.oauth.conftest import CLIENT_ID, App, auth_params, hidden


def logout(browser: FlaskClient, **params: str) -> Any:
    return browser.get("/dex/logout?" + urlencode(params))


def session_alive(app: App, sid: str) -> bool:
    return any(s.id == sid for s in app.storage.list_sessions())


def prompt_none(browser: FlaskClient) -> dict[str, str]:
    resp = browser.get("/dex/auth?" + urlencode(auth_params(prompt="none")))
    assert resp.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}


def confirm(browser: FlaskClient, html: str, *fields: str) -> Any:
    """Answer "yes" on a confirmation page, sending its CSRF token and hidden ``fields``."""
    data = {name: hidden(html, name) for name in ("csrf_token", *fields)}
    return browser.post("/dex/logout", data={**data, "logout": "yes"})


def cookie_cleared(resp: Any) -> bool:
    return any(
        h.startswith(f"{COOKIE}=;") and "Max-Age=0" in h for h in resp.headers.getlist("Set-Cookie")
    )


def test_valid_hint_and_registered_redirect_logs_out_and_returns_with_state(
    logout_app: App,
) -> None:
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    assert prompt_none(browser).get("code")  # logged in
    resp = logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=LOGOUT_REDIRECT,
        state="s-123",
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"{LOGOUT_REDIRECT}?state=s-123"
    assert cookie_cleared(resp)
    assert not session_alive(logout_app, sid)
    assert prompt_none(browser)["error"] == "login_required"


def test_valid_hint_without_redirect_shows_logged_out_page(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    resp = logout(browser, id_token_hint=tokens["id_token"])
    assert resp.status_code == 200
    assert "You have been logged out." in resp.get_data(as_text=True)
    assert logout_app.storage.list_sessions() == []


def test_unregistered_redirect_is_an_error_page_without_location(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    resp = logout(
        browser,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri="https://evil.example/steal",
        state="x",
    )
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert "not registered" in resp.get_data(as_text=True)
    assert session_alive(logout_app, sid)


def test_redirect_registered_for_another_client_is_refused(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    resp = logout(
        browser,
        id_token_hint=tokens["id_token"],
        client_id="peer-app",
        post_logout_redirect_uri=LOGOUT_REDIRECT,
    )
    assert resp.status_code == 400
    assert "Location" not in resp.headers


def test_redirect_without_a_way_to_identify_the_client_is_refused(logout_app: App) -> None:
    browser, _ = log_in(logout_app)
    resp = logout(browser, post_logout_redirect_uri=LOGOUT_REDIRECT)
    assert resp.status_code == 400
    assert "Location" not in resp.headers


def test_invalid_hint_is_a_400_page(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    header, payload, signature = tokens["id_token"].split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    for hint in ("not-a-jwt", tampered, tokens["access_token"]):
        resp = logout(browser, id_token_hint=hint, post_logout_redirect_uri=LOGOUT_REDIRECT)
        assert resp.status_code == 400, hint
        assert "Location" not in resp.headers
    assert len(logout_app.storage.list_sessions()) == 1


def test_repeated_parameter_is_refused(logout_app: App) -> None:
    browser, _ = log_in(logout_app)
    resp = browser.get("/dex/logout?state=a&state=b")
    assert resp.status_code == 400


def test_expired_hint_is_accepted(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    logout_app.clock.advance(timedelta(days=2))  # token and session both expired
    resp = logout(
        browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=LOGOUT_REDIRECT
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == LOGOUT_REDIRECT


def test_client_id_must_match_the_hint(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    resp = logout(browser, id_token_hint=tokens["id_token"], client_id="peer-app")
    assert resp.status_code == 400
    assert "does not match" in resp.get_data(as_text=True)
    ok = logout(
        browser,
        id_token_hint=tokens["id_token"],
        client_id=CLIENT_ID,
        post_logout_redirect_uri=LOGOUT_REDIRECT,
    )
    assert ok.status_code == 302


def test_no_hint_shows_confirmation_and_keeps_the_session(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    resp = logout(browser)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'name="logout" value="yes"' in html and 'name="logout" value="no"' in html
    assert hidden(html, "csrf_token")
    assert session_alive(logout_app, sid)


def test_confirmation_yes_with_csrf_logs_out_and_redirects(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    page = logout(
        browser, client_id=CLIENT_ID, post_logout_redirect_uri=LOGOUT_REDIRECT, state="st"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Example App" in html
    resp = confirm(browser, html, "client_id", "post_logout_redirect_uri", "state")
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"{LOGOUT_REDIRECT}?state=st"
    assert cookie_cleared(resp)
    assert not session_alive(logout_app, sid)
    assert prompt_none(browser)["error"] == "login_required"


def test_confirmation_no_keeps_the_session(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    html = logout(browser).get_data(as_text=True)
    resp = browser.post(
        "/dex/logout", data={"csrf_token": hidden(html, "csrf_token"), "logout": "no"}
    )
    assert resp.status_code == 200
    assert "You are still logged in." in resp.get_data(as_text=True)
    assert session_alive(logout_app, sid)
    assert prompt_none(browser).get("code")


def test_confirmation_without_or_with_forged_csrf_is_refused(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    html = logout(browser).get_data(as_text=True)
    real = hidden(html, "csrf_token")
    for data in (
        {"logout": "yes"},
        {"logout": "yes", "csrf_token": ""},
        {"logout": "yes", "csrf_token": real[:-2] + ("AA" if real[-2:] != "AA" else "BB")},
    ):
        resp = browser.post("/dex/logout", data=data)
        assert resp.status_code == 400, data
        assert session_alive(logout_app, sid)
    # The token is bound to this browser's cookie: another browser cannot use it.
    other, _ = log_in(logout_app)
    resp = other.post("/dex/logout", data={"logout": "yes", "csrf_token": real})
    assert resp.status_code == 400
    assert len(logout_app.storage.list_sessions()) == 2
    assert prompt_none(browser).get("code")


def test_confirmation_page_sets_a_browser_cookie_for_csrf(logout_app: App) -> None:
    browser2, _ = log_in(logout_app)
    browser2.delete_cookie("dexpy_browser", path="/dex")
    resp = logout(browser2)
    assert resp.status_code == 200
    assert any(h.startswith("dexpy_browser=") for h in resp.headers.getlist("Set-Cookie"))
    html = resp.get_data(as_text=True)
    done = browser2.post(
        "/dex/logout", data={"csrf_token": hidden(html, "csrf_token"), "logout": "yes"}
    )
    assert done.status_code == 200
    assert logout_app.storage.list_sessions() == []


def test_hint_of_another_session_asks_for_confirmation(logout_app: App) -> None:
    browser_a, tokens_a = log_in(logout_app)
    _, tokens_b = log_in(logout_app)
    sid_a, sid_b = (
        sid_of(logout_app, tokens_a["id_token"]),
        sid_of(logout_app, tokens_b["id_token"]),
    )
    assert sid_a != sid_b
    resp = logout(browser_a, id_token_hint=tokens_b["id_token"])
    assert resp.status_code == 200
    assert 'name="logout" value="yes"' in resp.get_data(as_text=True)
    assert session_alive(logout_app, sid_a) and session_alive(logout_app, sid_b)


def test_hint_alone_never_ends_a_session(logout_app: App) -> None:
    """Anyone holding an old (even expired) ID token, from a browser without the session's
    cookie, is asked to confirm; confirming there ends nothing (no session cookie)."""
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    logout_app.clock.advance(hours=2)  # the hint has expired; the session has not
    stranger = logout_app.client()
    resp = stranger.post(
        "/dex/logout",
        data={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_REDIRECT},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'name="logout" value="yes"' in html
    assert session_alive(logout_app, sid)
    done = confirm(stranger, html, "client_id", "post_logout_redirect_uri")
    assert done.status_code == 303 and done.headers["Location"] == LOGOUT_REDIRECT
    assert session_alive(logout_app, sid)
    assert prompt_none(browser).get("code")


def test_cookieless_request_with_hint_is_confirmed_by_the_users_browser(logout_app: App) -> None:
    """An RP's cross-site POST carries no SameSite=Lax cookie: the user's browser gets the
    confirmation page, and its same-site answer carries the session cookie."""
    browser, tokens = log_in(logout_app)
    sid = sid_of(logout_app, tokens["id_token"])
    session_cookie = browser.get_cookie(COOKIE, path="/dex")
    assert session_cookie is not None
    browser.delete_cookie(COOKIE, path="/dex")  # not sent with the cross-site POST
    page = browser.post("/dex/logout", data={"id_token_hint": tokens["id_token"]})
    assert page.status_code == 200 and session_alive(logout_app, sid)
    browser.set_cookie(COOKIE, session_cookie.value, path="/dex")  # sent with the same-site one
    html = page.get_data(as_text=True)
    assert confirm(browser, html).status_code == 200
    assert not session_alive(logout_app, sid)


def test_logout_without_session_or_hint_shows_logged_out(logout_app: App) -> None:
    resp = logout_app.client().get("/dex/logout")
    assert resp.status_code == 200
    assert "You have been logged out." in resp.get_data(as_text=True)


def test_discovery_advertises_logout(logout_app: App) -> None:
    doc = logout_app.client().get("/dex/.well-known/openid-configuration").json
    assert isinstance(doc, dict)
    assert doc["end_session_endpoint"] == "http://127.0.0.1:5556/dex/logout"
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True
    assert doc["frontchannel_logout_supported"] is False
