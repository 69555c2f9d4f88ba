"""Failed password logins limited (dex_py.login_guard) at the login form and the password
grant: a lock refuses even the right password, says nothing about whether the account exists,
spares the owner's own address, and a success resets that address's count."""

from __future__ import annotations

import re
from typing import Any

from tests.oauth.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    App,
    auth_params,
    basic,
    open_password_form,
    submit_password,
)

ADMIN = "admin@example.com"
TRUSTED = {"header": "X-Forwarded-For", "trustedProxies": ["127.0.0.1/32"]}


def _form_login(app: App, email: str, password: str, address: str) -> Any:
    browser = app.client()
    browser.environ_base["HTTP_X_FORWARDED_FOR"] = address
    form_url, html = open_password_form(browser, auth_params())
    return submit_password(browser, form_url, html, email, password)


def _grant(app: App, username: str, password: str) -> Any:
    data = {"grant_type": "password", "username": username, "password": password}
    return app.client().post("/dex/token", data=data, headers=basic())


def test_the_form_locks_an_address_and_spares_the_owners(make_app: Any) -> None:
    app = make_app(web={"http": "127.0.0.1:5556", "clientRemoteIP": TRUSTED})
    for _ in range(5):
        assert _form_login(app, ADMIN, "guess", "203.0.113.66").status_code == 401
    locked = _form_login(app, ADMIN, "password", "203.0.113.66")  # even the right one
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.get_data(as_text=True)
    owner = _form_login(app, ADMIN, "password", "198.51.100.1")
    assert owner.status_code == 303  # logged in, on to the approval page


def test_a_lock_does_not_reveal_whether_the_account_exists(make_app: Any) -> None:
    app = make_app(web={"http": "127.0.0.1:5556", "clientRemoteIP": TRUSTED})
    answers = []
    for user in (ADMIN, "nobody@example.com"):
        for _ in range(5):
            _form_login(app, user, "guess", "203.0.113.66")
        page = _form_login(app, user, "guess", "203.0.113.66")
        alert = re.search(r'<div class="alert[^>]*>(.*?)</div>', page.get_data(as_text=True), re.S)
        assert alert is not None
        answers.append((page.status_code, " ".join(alert.group(1).split())))
    assert answers[0] == answers[1]
    assert answers[0] == (
        429,
        "<p>Too many failed attempts. Please wait a few minutes and try again.</p>",
    )


def test_the_password_grant_shares_the_counts_and_resets_on_success(app: App) -> None:
    for _ in range(4):
        assert _grant(app, ADMIN, "guess").json["error"] == "invalid_grant"
    assert _grant(app, ADMIN, "password").status_code == 200  # resets this address's count
    for _ in range(5):
        assert _grant(app, ADMIN, "guess").json["error_description"] == (
            "invalid username or password"
        )
    locked = _grant(app, ADMIN, "password")
    assert locked.status_code == 400
    assert locked.json == {
        "error": "invalid_grant",
        "error_description": "too many failed attempts; try again later",
    }
    # the form counts for the same account: it is locked there too
    page = _form_login(app, ADMIN, "password", "127.0.0.1")
    assert page.status_code == 429


def test_off_by_config(make_app: Any) -> None:
    app = make_app(bruteForce={"enabled": False})
    for _ in range(8):
        _grant(app, ADMIN, "guess")
    assert _grant(app, ADMIN, "password").status_code == 200


def _client_auth(app: App, secret: str, address: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": "x.y"}
    headers = {**basic(CLIENT_ID, secret), "X-Forwarded-For": address}
    return app.client().post("/dex/token", data=data, headers=headers)


def test_client_authentication_is_limited_per_client_and_address(make_app: Any) -> None:
    app = make_app(web={"http": "127.0.0.1:5556", "clientRemoteIP": TRUSTED})
    for _ in range(5):
        assert _client_auth(app, "guess", "203.0.113.66").status_code == 401
    locked = _client_auth(app, CLIENT_SECRET, "203.0.113.66")  # even the right secret
    assert locked.status_code == 401
    assert locked.json["error_description"] == "too many failed attempts; try again later"
    elsewhere = _client_auth(app, CLIENT_SECRET, "198.51.100.1")
    assert elsewhere.status_code == 400 and elsewhere.json["error"] == "invalid_grant"


def test_counts_kept_in_redis_are_shared_by_two_issuers_and_unavailable_redis_is_503(
    make_app: Any,
) -> None:
    """bruteForce.redis: two issuers (two replicas) on one Redis see each other's failures;
    with the Redis gone the form answers 503, it never checks a password uncounted."""
    import uuid

    from tests.services import require_service

    require_service("Redis", "127.0.0.1", 6379)
    redis_section = {"url": "redis://127.0.0.1:6379/0", "keyPrefix": f"t{uuid.uuid4().hex}:"}
    web = {"http": "127.0.0.1:5556", "clientRemoteIP": TRUSTED}
    one = make_app(web=web, bruteForce={"redis": redis_section})
    other = make_app(web=web, bruteForce={"redis": redis_section})
    try:
        for app in (one, other, one, other, one):
            assert _form_login(app, ADMIN, "guess", "203.0.113.66").status_code == 401
        assert _form_login(other, ADMIN, "password", "203.0.113.66").status_code == 429
    finally:
        one.svc.login_guard.storage.reset_attempts("")
    down = make_app(web=web, bruteForce={"redis": {"url": "redis://127.0.0.1:9/0"}})
    assert _form_login(down, ADMIN, "password", "198.51.100.1").status_code == 503
