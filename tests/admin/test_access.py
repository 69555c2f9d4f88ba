"""Who gets what from the console: every route and every POST refused to non-admins, every
POST refused without the CSRF token of its own form, no-store on every answer, and console
access ending with the SSO session or with a cookie that was not made for it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

from dex_py.admin import console_session
from dex_py.admin.access import PUBLIC
from tests.admin.conftest import ADMIN_EMAIL, USER_EMAIL, App, console_login, csrf_of
from tests.oauth.conftest import auth_params, code_from, login_password, redeem

PLACEHOLDER = "example-app"


def console_routes(dex: App, method: str) -> Iterator[str]:
    """Every console URL answering ``method`` (placeholders filled), the public ones aside."""
    for rule in dex.flask.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint in PUBLIC:
            continue
        if method not in (rule.methods or ()):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", PLACEHOLDER, rule.rule)
        yield path


@pytest.fixture
def admin_browser(console: App) -> tuple[FlaskClient, str]:
    browser = console.client()
    resp = console_login(browser)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return browser, resp.get_data(as_text=True)


def test_there_are_routes_to_check(console: App) -> None:
    assert len(list(console_routes(console, "GET"))) >= 9
    assert "/dex/admin/logout" in list(console_routes(console, "POST"))


def test_every_page_answers_an_admin_and_is_never_cached(
    console: App, admin_browser: tuple[FlaskClient, str]
) -> None:
    browser, _ = admin_browser
    for path in console_routes(console, "GET"):
        resp = browser.get(path)
        assert resp.status_code in (200, 404), (path, resp.status_code)
        assert resp.headers["Cache-Control"] == "no-store", path
        assert "Traceback" not in resp.get_data(as_text=True)


def test_a_non_admin_is_refused_on_every_route(console: App) -> None:
    browser = console.client()
    resp = console_login(browser, USER_EMAIL)
    assert resp.status_code == 403 and "not an admin" in resp.get_data(as_text=True)
    before = len(console.storage.list_audit_records(limit=1000))
    for path in console_routes(console, "GET"):
        resp = browser.get(path)
        assert resp.status_code == 403, path
        assert resp.headers["Cache-Control"] == "no-store"
    for path in console_routes(console, "POST"):
        resp = browser.post(path, data={"csrf_token": "x", "confirm": "yes"})
        assert resp.status_code == 403, path
    refused = console.storage.list_audit_records(event="admin", limit=1000)
    assert sum('"console.refused"' in r.details for r in refused) > 0
    assert len(console.storage.list_audit_records(limit=1000)) > before


def test_not_logged_in_every_post_is_sent_to_log_in(console: App) -> None:
    browser = console.client()
    for path in console_routes(console, "POST"):
        resp = browser.post(path, data={"confirm": "yes"})
        assert resp.status_code == 303, path
        assert resp.headers["Location"].endswith("/dex/admin/login"), path


def test_every_post_needs_the_csrf_token_of_its_form(
    console: App, admin_browser: tuple[FlaskClient, str]
) -> None:
    browser, html = admin_browser
    logout_token = csrf_of(html, "/dex/admin/logout")
    for path in console_routes(console, "POST"):
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}):
            resp = browser.post(path, data={**data, "confirm": "yes"})
            assert resp.status_code == 400, (path, data)
            assert resp.headers["Cache-Control"] == "no-store"
        if path != "/dex/admin/logout":  # a token made for another form is refused too
            resp = browser.post(path, data={"csrf_token": logout_token, "confirm": "yes"})
            assert resp.status_code == 400, path
    # and still logged in: none of those posts logged out
    assert browser.get("/dex/admin").status_code == 200


def test_a_token_from_another_console_session_is_refused(console: App) -> None:
    one, two = console.client(), console.client()
    html_one = console_login(one).get_data(as_text=True)
    console_login(two)
    resp = two.post(
        "/dex/admin/logout", data={"csrf_token": csrf_of(html_one, "/dex/admin/logout")}
    )
    assert resp.status_code == 400


def test_an_admin_by_team(make_console: Callable[..., App]) -> None:
    dex = make_console(admin={"teams": ["staff"]})
    browser = dex.client()
    assert console_login(browser, USER_EMAIL).status_code == 200  # in group "staff"
    other = dex.client()
    assert console_login(other, ADMIN_EMAIL).status_code == 403  # email not listed any more


def test_revoking_the_sso_session_ends_console_access(
    console: App, admin_browser: tuple[FlaskClient, str]
) -> None:
    browser, _ = admin_browser
    (session,) = console.storage.list_sessions()
    console.storage.delete_session(session.id)
    resp = browser.get("/dex/admin/clients")
    assert resp.status_code == 302 and "/dex/admin/login" in resp.headers["Location"]


def test_an_expired_sso_session_ends_console_access(
    console: App, admin_browser: tuple[FlaskClient, str]
) -> None:
    from datetime import timedelta

    browser, _ = admin_browser
    console.clock.advance(timedelta(hours=25))
    assert browser.get("/dex/admin").status_code == 302


def test_the_console_cookie_is_useless_without_its_sso_cookie(console: App) -> None:
    victim, thief = console.client(), console.client()
    console_login(victim)
    console_login(thief, USER_EMAIL)  # a user with an SSO session of their own
    stolen = victim.get_cookie(console_session.COOKIE, path="/dex/admin")
    assert stolen is not None
    thief.set_cookie(console_session.COOKIE, stolen.value, path="/dex/admin")
    resp = thief.get("/dex/admin")
    assert resp.status_code == 302  # sealed for the victim's session: refused, not 403


def test_a_forged_or_tampered_console_cookie_is_refused(
    console: App, admin_browser: tuple[FlaskClient, str]
) -> None:
    browser, _ = admin_browser
    cookie = browser.get_cookie(console_session.COOKIE, path="/dex/admin")
    assert cookie is not None
    sid, _, blob = cookie.value.partition(".")
    flipped = blob[:-2] + ("A" if blob[-2] != "A" else "B") + blob[-1]
    for value in (f"{sid}.{flipped}", f"{sid}.", sid, "x" * 700, f"other.{blob}"):
        browser.set_cookie(console_session.COOKIE, value, path="/dex/admin")
        assert browser.get("/dex/admin").status_code == 302, value
    browser.set_cookie(console_session.COOKIE, cookie.value, path="/dex/admin")
    assert browser.get("/dex/admin").status_code == 200


def test_the_cookie_reveals_nothing(console: App, admin_browser: tuple[FlaskClient, str]) -> None:
    browser, html = admin_browser
    cookie = browser.get_cookie(console_session.COOKIE, path="/dex/admin")
    assert cookie is not None
    token = csrf_of(html, "/dex/admin/logout")
    assert ADMIN_EMAIL not in cookie.value and token not in cookie.value


def test_using_the_console_keeps_the_sso_session_alive(
    console: App, admin_browser: tuple[FlaskClient, str]
) -> None:
    from datetime import timedelta

    browser, _ = admin_browser
    for _ in range(3):  # 21 hours in all: past the 8 h idle timeout, within the 24 h lifetime
        console.clock.advance(timedelta(hours=7))
        assert browser.get("/dex/admin").status_code == 200
    console.clock.advance(timedelta(hours=4))  # and the absolute lifetime still ends it
    assert browser.get("/dex/admin").status_code == 302


def _state(dex: App) -> dict[str, object]:
    """What a change could touch: every table but the audit log, the keys, the revocations,
    the stored settings (team rules) and the change counter."""
    from tests.oauth.conftest import snapshot

    tables = {k: v for k, v in snapshot(dex.storage).items() if k != "_audit"}
    s = dex.storage
    return {
        **tables,
        "keys": s._keys,
        "revoked": dict(s._revoked),
        "settings": dict(s._settings),
        "generation": s._generation,
    }


def _real_targets(dex: App) -> Iterator[str]:
    """Every console POST URL, its placeholders filled with objects that exist and could be
    changed: a stored client, user and connector, a live session and refresh token."""
    from dex_py.clients import secret_digest
    from dex_py.storage.base import Client, Connector, Password

    dex.storage.create_client(
        Client(id="victim", secret_hash=secret_digest("s" * 32), redirect_uris=("https://v/cb",))
    )
    dex.storage.create_password(Password("victim@example.com", b"$2b$04$x", "v", "victim-id"))
    dex.storage.create_connector(Connector(id="victim-conn", type="mockCallback", name="V"))
    session = next(s for s in dex.storage.list_sessions() if s.claims.email == ADMIN_EMAIL)
    b = dex.client()
    code = code_from(login_password(b, auth_params(), email=USER_EMAIL))["code"]
    assert redeem(b, code).status_code == 200
    (token,) = dex.storage.list_refresh_tokens()
    fill = {
        "client_id": "victim",
        "email": "victim@example.com",
        "connector_id": "victim-conn",
        "session_id": session.id,
        "token_id": token.id,
    }
    for rule in dex.flask.url_map.iter_rules():
        wanted = rule.endpoint.startswith("admin.") and rule.endpoint not in PUBLIC
        if wanted and "POST" in (rule.methods or ()) and rule.endpoint != "admin.logout":
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: fill[m.group(1)], rule.rule)
            if rule.endpoint == "admin.revoke_user":
                path += "?user=victim-id&connector=local"
            yield path


FORM = {
    "confirm": "yes",
    "grace": "0",
    "id": "new-one",
    "name": "changed",
    "email": "new@example.com",
    "username": "changed",
    "password": "a new password",
    "groups": "admins",
    "redirect_uris": "https://changed/cb",
    "type": "mockCallback",
    "config": "",
    "rules": "- exact: a\n  team: b\n",
    "action": "save",
}


def test_nothing_a_refused_post_sends_changes_anything(console: App) -> None:
    admin, user = console.client(), console.client()
    html = console_login(admin).get_data(as_text=True)
    assert console_login(user, USER_EMAIL).status_code == 403
    logout_token = csrf_of(html, "/dex/admin/logout")
    # the user's own login made a session: revoke targets the admin's
    targets = list(_real_targets(console))
    assert len(targets) >= 12
    before = _state(console)
    for path in targets:
        assert user.post(path, data={**FORM, "csrf_token": "x"}).status_code == 403, path
        for token in ("", "forged", logout_token):
            resp = admin.post(path, data={**FORM, "csrf_token": token})
            assert resp.status_code == 400, path
    assert _state(console) == before
