"""Logging in to the console through dex-py itself: the built-in client, state, PKCE and the
code redeemed in-process with the token endpoint's checks, the console cookie bound to the SSO
session, and logout."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import parse_qs, quote, urlsplit

from dex_py.admin import console_session
from dex_py.admin.login import CLIENT_ID, LOGIN_COOKIE
from tests.admin.conftest import (
    ADMIN_EMAIL,
    App,
    console_login,
    csrf_of,
    follow,
    page_path,
    password_form,
    submit_password,
)
from tests.oauth.conftest import path_of


def _cookie(browser, name: str) -> str:  # type: ignore[no-untyped-def]
    cookie = browser.get_cookie(name, path="/dex/admin") or browser.get_cookie(name, path="/dex")
    assert cookie is not None, f"no cookie {name}"
    return cookie.value


def test_not_logged_in_is_sent_to_log_in_with_the_page_to_come_back_to(console: App) -> None:
    resp = console.client().get("/dex/admin/clients?x=1")
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/dex/admin/login"
    assert parse_qs(location.query)["next"] == ["/dex/admin/clients?x=1"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_login_uses_the_builtin_public_client_with_pkce(console: App) -> None:
    resp = console.client().get("/dex/admin/login")
    assert resp.status_code == 302
    params = {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://127.0.0.1:5556/dex/admin/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43 and params["state"] and params["nonce"]
    client = console.storage and console.svc.storage.get_client(CLIENT_ID)
    assert client.public and client.skip_approval
    assert console.svc.storage.is_static_client(CLIENT_ID)  # read-only


def test_admin_logs_in_and_lands_on_the_page_asked_for(console: App) -> None:
    browser = console.client()
    resp = console_login(browser, start="/dex/admin/keys")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert page_path(resp) == "/dex/admin/keys"
    html = resp.get_data(as_text=True)
    assert ADMIN_EMAIL in html and "Signing keys" in html
    assert resp.headers["Cache-Control"] == "no-store"
    # the login-state cookie is gone, the console cookie is HttpOnly and scoped to /dex/admin
    assert browser.get_cookie(LOGIN_COOKIE, path="/dex/admin") is None
    cookie = browser.get_cookie(console_session.COOKIE, path="/dex/admin")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    records = console.storage.list_audit_records(event="admin")
    assert any('"console.login"' in r.details and r.outcome == "success" for r in records)


def test_console_is_off_without_admins(make_console: Callable[..., App]) -> None:
    dex = make_console(admin=None)
    assert console_session  # the module is there; the client is not
    assert CLIENT_ID not in {c.id for c in dex.svc.storage.list_clients()}
    resp = dex.client().get("/dex/admin/login")
    assert resp.status_code == 403 and "names no admins" in resp.get_data(as_text=True)


def test_console_needs_sso_sessions(make_console: Callable[..., App]) -> None:
    dex = make_console(session={"enabled": False})
    resp = dex.client().get("/dex/admin/login")
    assert resp.status_code == 503


def _to_callback(dex: App) -> tuple[object, str]:
    """Log in up to the redirect to /admin/callback (not followed): (browser, callback path)."""
    browser = dex.client()
    resp = submit_password(browser, password_form(browser), ADMIN_EMAIL, "password")
    while resp.status_code in (302, 303) and "/admin/callback" not in resp.headers["Location"]:
        resp = browser.get(path_of(resp.headers["Location"]))
    location = resp.headers["Location"]
    assert "/admin/callback?" in location, location
    return browser, path_of(location)


def test_callback_refuses_a_state_from_elsewhere(console: App) -> None:
    browser, callback = _to_callback(console)
    query = parse_qs(urlsplit(callback).query)
    resp = browser.get(f"/dex/admin/callback?code={query['code'][0]}&state=forged")  # type: ignore[attr-defined]
    assert resp.status_code == 400
    assert browser.get_cookie(console_session.COOKIE, path="/dex/admin") is None  # type: ignore[attr-defined]


def test_callback_refuses_a_wrong_pkce_verifier(console: App) -> None:
    browser, callback = _to_callback(console)
    raw = _cookie(browser, LOGIN_COOKIE)
    pending = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    pending["verifier"] = "x" * 64
    forged = base64.urlsafe_b64encode(json.dumps(pending).encode()).rstrip(b"=").decode()
    browser.set_cookie(LOGIN_COOKIE, forged, path="/dex/admin")  # type: ignore[attr-defined]
    resp = browser.get(callback)  # type: ignore[attr-defined]
    assert resp.status_code == 400
    records = console.storage.list_audit_records(event="admin")
    assert any("code_verifier does not match" in r.details for r in records)


def test_a_used_code_is_refused_even_with_the_login_cookie(console: App) -> None:
    browser, callback = _to_callback(console)
    saved = _cookie(browser, LOGIN_COOKIE)
    assert browser.get(callback).status_code == 302  # type: ignore[attr-defined]
    browser.set_cookie(LOGIN_COOKIE, saved, path="/dex/admin")  # type: ignore[attr-defined]
    resp = browser.get(callback)  # type: ignore[attr-defined]
    assert resp.status_code == 400
    assert "code already used" in "".join(
        r.details for r in console.storage.list_audit_records(event="admin")
    )


def test_an_expired_code_is_refused(console: App) -> None:
    from datetime import timedelta

    browser, callback = _to_callback(console)
    console.clock.advance(timedelta(minutes=11))
    assert browser.get(callback).status_code == 400  # type: ignore[attr-defined]


def test_a_code_of_another_client_is_refused(console: App) -> None:
    browser, callback = _to_callback(console)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    console.storage.update_auth_code(code, lambda c: replace(c, client_id="example-app"))
    assert browser.get(callback).status_code == 400  # type: ignore[attr-defined]


def test_the_code_must_come_from_this_browsers_sso_session(console: App) -> None:
    browser, callback = _to_callback(console)
    other = console.client()
    console_login(other)  # another browser, its own SSO session
    browser.set_cookie(  # type: ignore[attr-defined]
        "dexpy_session", _cookie(other, "dexpy_session"), path="/dex"
    )
    resp = browser.get(callback)  # type: ignore[attr-defined]
    assert resp.status_code == 400 and "single sign-on session" in resp.get_data(as_text=True)


def test_logout_ends_the_console_session_only(console: App) -> None:
    browser = console.client()
    html = console_login(browser).get_data(as_text=True)
    resp = browser.post(
        "/dex/admin/logout", data={"csrf_token": csrf_of(html, "/dex/admin/logout")}
    )
    assert resp.status_code == 200 and "/dex/logout" in resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store"
    assert browser.get("/dex/admin").status_code == 302
    assert browser.get_cookie("dexpy_session", path="/dex") is not None


def test_after_login_only_console_pages_are_a_destination(console: App) -> None:
    for target in (
        "https://evil.example/",
        "//evil.example/dex/admin",
        "/dex/admin/../../evil",
        "/dex/adminx",
        "/dex/admin/callback?code=x",
        "/dex/admin\\@evil.example",
    ):
        browser = console.client()
        resp = console_login(browser, start=f"/dex/admin/login?next={quote(target)}")
        assert resp.status_code == 200 and page_path(resp) == "/dex/admin", target


def test_a_callback_without_its_login_cookie_is_refused(console: App) -> None:
    browser, callback = _to_callback(console)
    browser.delete_cookie(LOGIN_COOKIE, path="/dex/admin")  # type: ignore[attr-defined]
    resp = browser.get(callback)  # type: ignore[attr-defined]
    assert resp.status_code == 400
    browser.set_cookie(LOGIN_COOKIE, "not-json!", path="/dex/admin")  # type: ignore[attr-defined]
    assert browser.get(callback).status_code == 400  # type: ignore[attr-defined]


def test_an_error_answer_shows_no_text_from_the_url(console: App) -> None:
    browser = console.client()
    browser.get("/dex/admin/login")
    resp = browser.get(
        "/dex/admin/callback?error=access_denied&error_description=Call+0800+EVIL+now"
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "access_denied" in html and "EVIL" not in html
    resp = browser.get("/dex/admin/callback?error=<b>x</b>")
    assert resp.status_code == 400 and "<b>x" not in resp.get_data(as_text=True)


def test_the_console_at_an_issuer_without_a_path(make_console: Callable[..., App]) -> None:
    dex = make_console(issuer="http://127.0.0.1:5556")
    browser = dex.client()
    resp = browser.get("/admin")
    assert resp.status_code == 302 and resp.headers["Location"].startswith(
        "http://127.0.0.1:5556/admin/login"
    )
    resp = follow(browser, browser.get("/admin/login"))
    html = resp.get_data(as_text=True)
    if "/auth/local" in html:
        link = re.search(r'href="([^"]*/auth/local\?[^"]*)"', html)
        assert link
        resp = follow(browser, browser.get(path_of(link.group(1).replace("&amp;", "&"))))
    resp = follow(browser, submit_password(browser, resp, ADMIN_EMAIL, "password"))
    assert resp.status_code == 200 and page_path(resp) == "/admin"
    cookie = browser.get_cookie(console_session.COOKIE, path="/admin")
    assert cookie is not None


def test_after_logout_the_next_login_asks_for_the_password_again(console: App) -> None:
    browser = console.client()
    html = console_login(browser).get_data(as_text=True)
    page = browser.post(
        "/dex/admin/logout", data={"csrf_token": csrf_of(html, "/dex/admin/logout")}
    ).get_data(as_text=True)
    login = re.search(r'href="([^"]+)" id="login-again"|id="login-again" href="([^"]+)"', page)
    assert login
    url = (login.group(1) or login.group(2)).replace("&amp;", "&")
    resp = browser.get(path_of(url))
    assert "prompt=login" in resp.headers["Location"]
    resp = follow(browser, resp)
    assert 'name="password"' in resp.get_data(as_text=True) or "/auth/local" in resp.get_data(
        as_text=True
    )
