"""Changing things through the console's forms (in-process): clients (secret shown once,
edit, delete, rotate), users, sessions and refresh tokens, signing keys; each form again with
its errors next to the fields on bad input, config objects read-only, destructive actions only
after their confirmation page, every change in the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from dex_py.clients import secret_digest
from tests.admin.conftest import ADMIN_EMAIL, USER_EMAIL, App, console_login, csrf_of
from tests.oauth.conftest import auth_params, basic, code_from, login_password, redeem

NEW_URI = "https://app.example.com/callback"


@pytest.fixture
def browser(console: App) -> FlaskClient:
    b = console.client()
    assert console_login(b).status_code == 200
    return b


def get(browser: FlaskClient, path: str, status: int = 200) -> str:
    resp = browser.get(path)
    assert resp.status_code == status, (path, resp.status_code, resp.get_data(as_text=True))
    assert resp.headers["Cache-Control"] == "no-store"
    return resp.get_data(as_text=True)


def submit(browser: FlaskClient, path: str, data: dict[str, Any], status: int = 303) -> Any:
    """GET the form (or confirmation page) at ``path`` and POST ``data`` with its token."""
    html = get(browser, path)
    resp = browser.post(path, data={"csrf_token": csrf_of(html, path), **data})
    assert resp.status_code == status, (path, resp.status_code, resp.get_data(as_text=True))
    return resp


def admin_actions(dex: App) -> list[str]:
    return [
        m.group(1)
        for r in dex.storage.list_audit_records(event="admin", limit=500)
        if (m := re.search(r'"action": "([^"]+)"', r.details))
    ]


def test_create_a_client_shows_its_secret_once(console: App, browser: FlaskClient) -> None:
    resp = submit(
        browser,
        "/dex/admin/clients/new",
        {"id": "made-here", "name": "Made here", "redirect_uris": NEW_URI},
        status=200,
    )
    html = resp.get_data(as_text=True)
    secret = re.search(r'id="client-secret">([^<]+)<', html)
    assert secret, html
    stored = console.storage.get_client("made-here")
    assert stored.secret_hash == secret_digest(secret.group(1))
    assert stored.redirect_uris == (NEW_URI,)
    detail = get(browser, "/dex/admin/clients/made-here")
    assert secret.group(1) not in detail and "Made here" in detail
    assert 'class="badge">stored<' in get(browser, "/dex/admin/clients")
    assert "client.create" in admin_actions(console)


def test_bad_client_input_shows_each_error_at_its_field(console: App, browser: FlaskClient) -> None:
    resp = submit(
        browser,
        "/dex/admin/clients/new",
        {"id": "bad", "redirect_uris": "javascript:alert(1)\nnot a uri", "logo_url": "ftp://x"},
        status=400,
    )
    html = resp.get_data(as_text=True)
    assert 'id="f-redirect_uris-error"' in html and "Traceback" not in html
    assert "javascript:alert(1)" in html  # the input is kept to be fixed
    with pytest.raises(Exception):  # noqa: B017  (nothing stored)
        console.storage.get_client("bad")
    taken = submit(browser, "/dex/admin/clients/new", {"id": "example-app"}, status=400)
    assert 'id="f-id-error">is already taken' in taken.get_data(as_text=True)


def test_edit_a_client(console: App, browser: FlaskClient) -> None:
    submit(browser, "/dex/admin/clients/new", {"id": "c1", "redirect_uris": NEW_URI}, 200)
    html = get(browser, "/dex/admin/clients/c1/edit")
    assert NEW_URI in html
    resp = submit(
        browser,
        "/dex/admin/clients/c1/edit",
        {
            "name": "Renamed",
            "redirect_uris": f"{NEW_URI}\nhttps://two.example.com/cb",
            "version": re.search(r'name="version" value="([^"]*)"', html).group(1),
        },  # type: ignore[union-attr]
    )
    assert resp.headers["Location"].endswith("/dex/admin/clients/c1?done=saved")
    assert console.storage.get_client("c1").name == "Renamed"
    assert len(console.storage.get_client("c1").redirect_uris) == 2
    assert "Saved." in get(browser, "/dex/admin/clients/c1?done=saved")


def test_a_stale_edit_is_refused(console: App, browser: FlaskClient) -> None:
    submit(browser, "/dex/admin/clients/new", {"id": "c2", "redirect_uris": NEW_URI}, 200)
    html = get(browser, "/dex/admin/clients/c2/edit")
    version = re.search(r'name="version" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    submit(browser, "/dex/admin/clients/c2/edit", {"name": "first", "version": version})
    resp = browser.post(
        "/dex/admin/clients/c2/edit",
        data={
            "csrf_token": csrf_of(html, "/dex/admin/clients/c2/edit"),
            "name": "second",
            "version": version,
        },
    )
    assert resp.status_code == 400 and "changed this in the meantime" in resp.get_data(as_text=True)
    assert console.storage.get_client("c2").name == "first"


def test_delete_a_client_needs_its_confirmation_page(console: App, browser: FlaskClient) -> None:
    submit(browser, "/dex/admin/clients/new", {"id": "c3", "redirect_uris": NEW_URI}, 200)
    html = get(browser, "/dex/admin/clients/c3/delete")
    assert 'id="confirm-form"' in html and "cannot be undone" in html
    assert console.storage.get_client("c3")  # the GET changed nothing
    resp = browser.post(
        "/dex/admin/clients/c3/delete",
        data={"csrf_token": csrf_of(html, "/dex/admin/clients/c3/delete")},
    )
    assert resp.status_code == 303
    assert "c3" not in {c.id for c in console.storage.list_clients()}


def test_rotate_a_client_secret_with_a_grace_period(console: App, browser: FlaskClient) -> None:
    first = submit(browser, "/dex/admin/clients/new", {"id": "c4", "redirect_uris": NEW_URI}, 200)
    old = re.search(r'id="client-secret">([^<]+)<', first.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    html = get(browser, "/dex/admin/clients/c4/rotate")
    assert 'name="grace"' in html
    assert console.storage.get_client("c4").secret_hash == secret_digest(old)  # GET: nothing
    resp = submit(browser, "/dex/admin/clients/c4/rotate", {"grace": "3600"}, 200)
    new = re.search(r'id="client-secret">([^<]+)<', resp.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert new != old
    stored = console.storage.get_client("c4")
    assert stored.secret_hash == secret_digest(new)
    assert stored.previous_secret_hash == secret_digest(old)  # the old one, for an hour
    bad = submit(browser, "/dex/admin/clients/c4/rotate", {"grace": "99999999"}, 409)
    assert "grace period" in bad.get_data(as_text=True)
    assert console.storage.get_client("c4").secret_hash == secret_digest(new)


def test_config_clients_are_read_only(console: App, browser: FlaskClient) -> None:
    html = get(browser, "/dex/admin/clients/example-app")
    assert 'id="read-only"' in html and 'id="edit"' not in html and 'id="delete"' not in html
    for action in ("edit", "delete", "rotate"):
        get(browser, f"/dex/admin/clients/example-app/{action}", 404)
        get(browser, f"/dex/admin/clients/dex-py-admin/{action}", 404)
    token = csrf_of(get(browser, "/dex/admin/clients/new"), "/dex/admin/clients/new")
    resp = browser.post("/dex/admin/clients/example-app/delete", data={"csrf_token": token})
    assert resp.status_code == 400  # a token of another form
    assert console.svc.storage.get_client("example-app")


def test_users_create_edit_delete(console: App, browser: FlaskClient) -> None:
    submit(
        browser,
        "/dex/admin/users/new",
        {
            "email": "new@example.com",
            "username": "new",
            "password": "a good password",
            "groups": "ops\ndev",
        },
    )
    html = get(browser, "/dex/admin/users?done=created")
    assert "new@example.com" in html and "ops, dev" in html and "Created." in html
    other = console.client()
    resp = login_password(other, auth_params(), email="new@example.com", password="a good password")
    assert code_from(resp)["code"]
    submit(
        browser,
        "/dex/admin/users/new@example.com/edit",
        {"username": "renamed", "groups": "ops", "password": ""},
    )
    assert console.storage.get_password("new@example.com").groups == ("ops",)
    submit(browser, "/dex/admin/users/new@example.com/delete", {})
    assert "new@example.com" not in get(browser, "/dex/admin/users")
    assert {"user.create", "user.update", "user.delete"} <= set(admin_actions(console))


def test_bad_user_input(console: App, browser: FlaskClient) -> None:
    resp = submit(browser, "/dex/admin/users/new", {"email": "", "password": ""}, status=400)
    html = resp.get_data(as_text=True)
    assert 'id="f-email-error"' in html and 'id="f-password-error"' in html
    taken = submit(
        browser,
        "/dex/admin/users/new",
        {"email": USER_EMAIL, "username": "x", "password": "pw-pw-pw-pw"},
        status=400,
    )
    assert 'id="f-email-error"' in taken.get_data(as_text=True)


def test_config_users_are_read_only(browser: FlaskClient) -> None:
    get(browser, f"/dex/admin/users/{ADMIN_EMAIL}/edit", 404)
    get(browser, f"/dex/admin/users/{ADMIN_EMAIL}/delete", 404)


def _refresh_token(dex: App) -> str:
    b = dex.client()
    tokens = redeem(b, code_from(login_password(b, auth_params(), email=USER_EMAIL))["code"])
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    return str(tokens.get_json()["refresh_token"])


def _refresh(dex: App, token: str) -> int:
    resp = dex.client().post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers=basic(),
    )
    return resp.status_code


def test_revoke_everything_of_a_user(console: App, browser: FlaskClient) -> None:
    refresh = _refresh_token(console)
    from tests.admin.conftest import USER_ID

    html = get(browser, f"/dex/admin/sessions?user={USER_ID}&connector=local")
    assert USER_EMAIL in html and "Refresh tokens (1)" in html
    submit(browser, f"/dex/admin/sessions/revoke-user?user={USER_ID}&connector=local", {})
    assert _refresh(console, refresh) == 400
    assert not console.storage.list_sessions(user_id=USER_ID)
    assert "session.revoke_user" in admin_actions(console)


def test_revoke_one_refresh_token_and_one_session(console: App, browser: FlaskClient) -> None:
    refresh = _refresh_token(console)
    (token,) = console.storage.list_refresh_tokens(client_id="example-app")
    submit(browser, f"/dex/admin/refresh-tokens/{token.id}/revoke", {})
    assert _refresh(console, refresh) == 400
    (session,) = [s for s in console.storage.list_sessions() if s.claims.email == USER_EMAIL]
    submit(browser, f"/dex/admin/sessions/{session.id}/end", {})
    assert all(s.claims.email != USER_EMAIL for s in console.storage.list_sessions())


def test_ending_the_admins_own_session_ends_their_console(
    console: App, browser: FlaskClient
) -> None:
    (own,) = console.storage.list_sessions()
    submit(browser, f"/dex/admin/sessions/{own.id}/end", {})
    assert browser.get("/dex/admin").status_code == 302


def test_rotate_the_signing_key(console: App, browser: FlaskClient) -> None:
    before = console.svc.keys.signer().kid
    html = get(browser, "/dex/admin/keys/rotate")
    assert console.svc.keys.signer().kid == before  # the confirmation page changes nothing
    browser.post(
        "/dex/admin/keys/rotate", data={"csrf_token": csrf_of(html, "/dex/admin/keys/rotate")}
    )
    html = get(browser, "/dex/admin/keys?done=rotated")
    assert before in html and 'class="badge">retired<' in html
    assert "key.rotate" in admin_actions(console)
