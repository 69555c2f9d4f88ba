"""Each protection of the issuer core, with a test that fails without it (RFC 6749, RFC 7636,
RFC 9700, OIDC Core)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from tests.oauth.conftest import (
    CLIENT_ID,
    REDIRECT,
    App,
    approve_page,
    auth_params,
    basic,
    code_from,
    hidden,
    login_password,
    open_password_form,
    path_of,
    pkce_pair,
    redeem,
    submit_password,
)


def _code(app: App, **params: str) -> str:
    return code_from(login_password(app.client(), auth_params(**params)))["code"]


# --- redirect URIs and clients -------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://evil.example/callback",
        REDIRECT + "/extra",
        REDIRECT + "?x=1",
        "http://127.0.0.1:5555/callback#frag",
        "//evil.example",
        "/\\evil.example",
        "http%3A%2F%2Fevil.example",
        "HTTP://127.0.0.1:5555/callback",
    ],
)
def test_unregistered_redirect_uri_gets_a_page_not_a_redirect(app: App, redirect_uri: str) -> None:
    resp = app.client().get("/dex/auth?" + urlencode(auth_params(redirect_uri=redirect_uri)))
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert b"redirect" in resp.data.lower()


def test_unknown_client_gets_a_page(app: App) -> None:
    resp = app.client().get("/dex/auth?" + urlencode(auth_params(client_id="nobody")))
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_duplicated_redirect_uri_is_refused(app: App) -> None:
    query = urlencode(auth_params()) + "&redirect_uri=" + "http%3A%2F%2Fevil.example"
    resp = app.client().get("/dex/auth?" + query)
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_public_client_loopback_any_port_and_oob(app: App) -> None:
    _, challenge = pkce_pair()
    for uri in ("http://127.0.0.1:43123/cb", "http://localhost:1/", "urn:ietf:wg:oauth:2.0:oob"):
        params = auth_params(
            client_id="public-cli",
            redirect_uri=uri,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
        resp = app.client().get("/dex/auth?" + urlencode(params))
        assert resp.status_code in (200, 302), uri
        assert "error=" not in resp.headers.get("Location", "")
    # but not a non-loopback host
    params = auth_params(
        client_id="public-cli",
        redirect_uri="http://evil.example:80/cb",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert app.client().get("/dex/auth?" + urlencode(params)).status_code == 400


def test_oob_shows_the_code_on_a_page(app: App) -> None:
    verifier, challenge = pkce_pair()
    browser = app.client()
    params = auth_params(
        client_id="public-cli",
        redirect_uri="urn:ietf:wg:oauth:2.0:oob",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    resp = login_password(browser, params)
    assert resp.status_code == 200
    match = re.search(r'id="code"[^>]*value="([^"]+)"', resp.get_data(as_text=True))
    assert match, "the page shows no code"
    token = browser.post(
        "/dex/token",
        data={
            "grant_type": "authorization_code",
            "code": match.group(1),
            "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
            "client_id": "public-cli",
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.json


def test_public_client_must_use_pkce(app: App) -> None:
    params = auth_params(client_id="public-cli", redirect_uri="http://127.0.0.1:9999/cb")
    resp = app.client().get("/dex/auth?" + urlencode(params))
    assert resp.status_code == 302
    assert "error=invalid_request" in resp.headers["Location"]


# --- codes ---------------------------------------------------------------------------------------


def test_code_is_single_use_and_replay_revokes_tokens(app: App) -> None:
    browser = app.client()
    code = _code(app)
    first = redeem(browser, code)
    assert first.status_code == 200
    replay = redeem(browser, code)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    # what the first redemption issued is revoked
    refresh = browser.post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json["refresh_token"]},
        headers=basic(),
    )
    assert refresh.json["error"] == "invalid_grant"
    userinfo = browser.get(
        "/dex/userinfo", headers={"Authorization": "Bearer " + first.json["access_token"]}
    )
    assert userinfo.status_code == 401


def test_code_expires(app: App) -> None:
    code = _code(app)
    app.clock.advance(app.svc.config.expiry.auth_codes + timedelta(seconds=1))
    assert redeem(app.client(), code).json["error"] == "invalid_grant"


def test_code_bound_to_client_and_redirect_uri(app: App) -> None:
    code = _code(app)
    other = app.client().post(
        "/dex/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:5999/cb",
        },
        headers=basic("peer-app", "peer-secret-peer-secret"),
    )
    assert other.json["error"] == "invalid_grant"
    wrong_uri = redeem(app.client(), code, redirect_uri="http://127.0.0.1:5555/other")
    assert wrong_uri.json["error"] == "invalid_grant"
    assert redeem(app.client(), code).status_code == 200  # still usable by its owner


def test_pkce_verifier_required_and_checked(app: App) -> None:
    verifier, challenge = pkce_pair()
    code = _code(app, code_challenge=challenge, code_challenge_method="S256")
    assert redeem(app.client(), code).json["error"] == "invalid_grant"
    wrong, _ = pkce_pair()
    assert redeem(app.client(), code, verifier=wrong).json["error"] == "invalid_grant"
    assert redeem(app.client(), code, verifier=verifier).status_code == 200


def test_pkce_plain(app: App) -> None:
    verifier, _ = pkce_pair()
    code = _code(app, code_challenge=verifier, code_challenge_method="plain")
    assert redeem(app.client(), code, verifier=verifier).status_code == 200


def test_pkce_downgrade_is_refused(app: App) -> None:
    verifier, _ = pkce_pair()
    code = _code(app)  # issued without a challenge
    assert redeem(app.client(), code, verifier=verifier).json["error"] == "invalid_grant"


# --- the browser binding and CSRF ----------------------------------------------------------------


def test_login_cannot_be_continued_from_another_browser(app: App) -> None:
    victim, attacker = app.client(), app.client()
    form_url, html = open_password_form(attacker, auth_params())
    # the attacker sends the form link to the victim, who logs in
    resp = victim.get(form_url)
    assert resp.status_code == 400
    resp = submit_password(victim, form_url, html, "admin@example.com", "password")
    assert resp.status_code == 400


def test_approval_cannot_be_finished_from_another_browser(app: App) -> None:
    owner, other = app.client(), app.client()
    form_url, html = open_password_form(owner, auth_params())
    resp = submit_password(owner, form_url, html, "admin@example.com", "password")
    approval_url = resp.headers["Location"]
    page = owner.get(path_of(approval_url)).get_data(as_text=True)
    resp = other.post(
        "/dex/approval",
        data={
            "req": hidden(page, "req"),
            "csrf_token": hidden(page, "csrf_token"),
            "approval": "approve",
        },
    )
    assert resp.status_code == 400
    assert approve_page(owner, approval_url).status_code == 303


def test_session_answer_needing_approval_is_bound_to_a_fresh_browser_secret(app: App) -> None:
    """A browser secret planted in the victim's browser (its value known to the attacker) is
    replaced when the SSO session answers a request that needs approval, so the attacker's
    browser cannot open or post that approval (the class of GHSA-vh7g-p26c-j2cw)."""
    victim, attacker = app.client(), app.client()
    login_password(victim, auth_params())
    planted = victim.get_cookie("dexpy_browser", path="/dex")
    assert planted is not None
    attacker.set_cookie("dexpy_browser", planted.value, path="/dex")
    _, challenge = pkce_pair()
    resp = victim.get(
        "/dex/auth?"
        + urlencode(
            auth_params(
                client_id="public-cli",
                redirect_uri="http://127.0.0.1:41000/cb",
                code_challenge=challenge,
                code_challenge_method="S256",
            )
        )
    )
    assert resp.status_code == 303 and "/dex/approval?" in resp.headers["Location"]
    assert attacker.get(path_of(resp.headers["Location"])).status_code == 400
    assert approve_page(victim, resp.headers["Location"]).status_code == 303


def test_password_form_requires_csrf_token(app: App) -> None:
    browser = app.client()
    form_url, _ = open_password_form(browser, auth_params())
    resp = browser.post(form_url, data={"login": "admin@example.com", "password": "password"})
    assert resp.status_code == 400
    resp = browser.post(
        form_url,
        data={"login": "admin@example.com", "password": "password", "csrf_token": "forged"},
    )
    assert resp.status_code == 400


def test_approval_requires_csrf_token(app: App) -> None:
    browser = app.client()
    form_url, html = open_password_form(browser, auth_params())
    resp = submit_password(browser, form_url, html, "admin@example.com", "password")
    page = browser.get(path_of(resp.headers["Location"])).get_data(as_text=True)
    resp = browser.post("/dex/approval", data={"req": hidden(page, "req"), "approval": "approve"})
    assert resp.status_code == 400


def test_browser_cookie_is_httponly_and_samesite(app: App) -> None:
    resp = app.client().get("/dex/auth?" + urlencode(auth_params()))
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dex" in cookie


# --- token endpoint hygiene ----------------------------------------------------------------------


def test_client_secret_is_checked(app: App) -> None:
    code = _code(app)
    resp = app.client().post(
        "/dex/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=basic(CLIENT_ID, "wrong-secret"),
    )
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"
    assert "WWW-Authenticate" in resp.headers


def test_two_client_auth_methods_are_refused(app: App) -> None:
    resp = app.client().post(
        "/dex/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": REDIRECT,
            "client_secret": "s",
        },
        headers=basic(),
    )
    assert resp.json["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"data": "grant_type=authorization_code&grant_type=password"}, "invalid_request"),
        ({"json": {"grant_type": "authorization_code"}}, "invalid_request"),
        ({"data": {"grant_type": "urn:nope"}}, "unsupported_grant_type"),
        ({"data": {}}, "invalid_request"),
        ({"data": {"grant_type": "authorization_code"}}, "invalid_request"),
        ({"data": b"grant_type=authorization_code&code=\xff"}, "invalid_request"),
        ({"data": "grant_type=authorization_code&code=%ff%fe"}, "invalid_request"),
        ({"data": "grant_type=authorization_code&code=x&code="}, "invalid_request"),
    ],
)
def test_malformed_token_requests(app: App, kwargs: dict, error: str) -> None:
    if isinstance(kwargs.get("data"), str | bytes):
        kwargs = {**kwargs, "content_type": "application/x-www-form-urlencoded"}
    resp = app.client().post("/dex/token", headers=basic(), **kwargs)
    assert resp.status_code == 400
    assert resp.json["error"] == error
    assert resp.headers["Cache-Control"] == "no-store"


def test_secrets_in_query_string_are_refused(app: App) -> None:
    resp = app.client().post(
        "/dex/token?client_secret=x",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT},
        headers=basic(),
    )
    assert resp.json["error"] == "invalid_request"


def test_token_endpoint_rejects_get(app: App) -> None:
    resp = app.client().get("/dex/token")
    assert resp.status_code == 405


def test_oversize_request_is_refused(app: App) -> None:
    resp = app.client().post("/dex/token", data={"grant_type": "x" * 100_000}, headers=basic())
    assert resp.status_code == 413


# --- grant policy on every grant -----------------------------------------------------------------


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token", "password"])
def test_client_grant_types_enforced_on_every_grant(
    make_app: Callable[..., App], grant: str
) -> None:
    from tests.oauth.conftest import BASE_CONFIG

    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[0]["grantTypes"] = ["client_credentials"]
    app = make_app(staticClients=clients)
    data = {
        "grant_type": grant,
        "code": "c",
        "redirect_uri": REDIRECT,
        "refresh_token": "a.b",
        "username": "admin@example.com",
        "password": "password",
    }
    resp = app.client().post("/dex/token", data=data, headers=basic())
    assert resp.json["error"] == "unauthorized_client"


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token", "password"])
def test_allowed_connectors_enforced_on_every_grant(
    make_app: Callable[..., App], grant: str
) -> None:
    """Tokens for a user of connector `local` must not reach a client limited to `mock`,
    whichever grant is used (the class of GHSA-7qjx-gp9h-65qj)."""
    from tests.oauth.conftest import BASE_CONFIG

    app = make_app()
    browser = app.client()
    first = redeem(browser, _code(app))
    assert first.status_code == 200
    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[0]["allowedConnectors"] = ["mock"]
    restricted = make_app(staticClients=clients)
    # same storage contents: copy the refresh token and a fresh code across
    code = _code(app)
    for rt in app.storage.list_refresh_tokens():
        restricted.storage.create_refresh_token(rt)
    restricted.storage.create_auth_code(app.storage.get_auth_code(code))
    data = {
        "authorization_code": {"grant_type": grant, "code": code, "redirect_uri": REDIRECT},
        "refresh_token": {"grant_type": grant, "refresh_token": first.json["refresh_token"]},
        "password": {"grant_type": grant, "username": "admin@example.com", "password": "password"},
    }[grant]
    # the keys differ between the two apps, but the grant must fail before any signing
    resp = restricted.client().post("/dex/token", data=data, headers=basic())
    assert resp.status_code in (400, 401)
    assert resp.json["error"] in ("invalid_grant", "unauthorized_client")


def test_allowed_connectors_enforced_at_auth(make_app: Callable[..., App]) -> None:
    from tests.oauth.conftest import BASE_CONFIG

    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[0]["allowedConnectors"] = ["mock"]
    app = make_app(staticClients=clients)
    resp = app.client().get("/dex/auth?" + urlencode(auth_params(connector_id="local")))
    assert resp.status_code == 302 and "error=unauthorized_client" in resp.headers["Location"]
    # only one usable connector: straight to it
    resp = app.client().get("/dex/auth?" + urlencode(auth_params()))
    assert "/auth/mock?" in resp.headers["Location"]


def test_allowed_groups_enforced_at_login(make_app: Callable[..., App]) -> None:
    from tests.oauth.conftest import BASE_CONFIG

    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[0]["allowedGroups"] = ["platform"]
    app = make_app(staticClients=clients)
    resp = login_password(app.client(), auth_params())
    assert resp.status_code == 303 and "error=access_denied" in resp.headers["Location"]


# --- authorization endpoint errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "bogus"}, "unsupported_response_type"),
        ({"scope": "email"}, "invalid_scope"),
        ({"request": "eyJ..."}, "request_not_supported"),
        ({"request_uri": "https://x"}, "request_uri_not_supported"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "S512"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"connector_id": "nope"}, "invalid_request"),
        ({"response_mode": "bogus"}, "invalid_request"),
    ],
)
def test_auth_errors_redirect_with_state(app: App, overrides: dict, error: str) -> None:
    params = auth_params(**overrides)
    resp = app.client().get("/dex/auth?" + urlencode(params))
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    assert f"error={error}" in location
    assert f"state={params['state']}" in location
    assert _stored_auth_requests(app) == 0


def _stored_auth_requests(app: App) -> int:
    """How many auth requests storage holds (garbage collection far in the future counts them)."""
    return app.storage.garbage_collect(app.clock.now() + timedelta(days=36500)).auth_requests


def test_security_headers_on_pages(app: App) -> None:
    resp = app.client().get("/dex/auth?" + urlencode(auth_params()))
    h = resp.headers
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Cache-Control"] == "no-store"


def test_unexpected_error_shows_no_traceback(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("secret-detail-xyz")

    monkeypatch.setattr(app.svc.storage, "create_auth_request", boom)
    resp = app.client().get("/dex/auth?" + urlencode(auth_params()))
    assert resp.status_code == 500
    assert b"secret-detail-xyz" not in resp.data and b"Traceback" not in resp.data
