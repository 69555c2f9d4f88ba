"""Revocation (RFC 7009) and introspection (RFC 7662)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dex_py.jose import tokens
from tests.oauth.conftest import (
    ISSUER,
    App,
    auth_params,
    basic,
    code_from,
    login_password,
    redeem,
)

PEER = ("peer-app", "peer-secret-peer-secret")


def tokens_for(app: App) -> dict[str, Any]:
    browser = app.client()
    return redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json


def refreshed(app: App, refresh_token: str) -> dict[str, Any]:
    resp = post(app, "/dex/token", {"grant_type": "refresh_token", "refresh_token": refresh_token})
    assert resp.status_code == 200, resp.json
    return resp.json


def is_alive(app: App, access_token: str) -> bool:
    """Whether /userinfo and introspection both accept ``access_token`` (and agree)."""
    info = app.client().get("/dex/userinfo", headers={"Authorization": "Bearer " + access_token})
    active = post(app, "/dex/token/introspect", {"token": access_token}).json["active"]
    assert (info.status_code == 200) == active, (info.status_code, active)
    return bool(active)


def post(app: App, path: str, data: dict[str, str], auth: tuple[str, str] | None = None) -> Any:
    headers = basic(*auth) if auth else basic()
    return app.client().post(path, data=data, headers=headers)


def test_introspect_access_and_refresh_tokens(app: App) -> None:
    t = tokens_for(app)
    resp = post(app, "/dex/token/introspect", {"token": t["access_token"]})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert body["active"] is True and body["token_type"] == "access_token"
    assert body["client_id"] == "example-app" and body["username"] == "admin"
    refresh = post(
        app,
        "/dex/token/introspect",
        {"token": t["refresh_token"], "token_type_hint": "refresh_token"},
    ).json
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    assert refresh["sub"] == body["sub"]


def test_introspection_requires_client_authentication(app: App) -> None:
    t = tokens_for(app)
    resp = app.client().post("/dex/token/introspect", data={"token": t["access_token"]})
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"
    resp = post(
        app, "/dex/token/introspect", {"token": t["access_token"]}, auth=("example-app", "wrong")
    )
    assert resp.status_code == 401


def test_introspection_hides_other_clients_tokens(app: App) -> None:
    t = tokens_for(app)
    for token in (t["access_token"], t["refresh_token"]):
        assert post(app, "/dex/token/introspect", {"token": token}, auth=PEER).json == {
            "active": False
        }


def test_introspection_of_garbage_is_inactive(app: App) -> None:
    for token in ("x", "a.b.c", "a.b", "e" * 5000):
        assert post(app, "/dex/token/introspect", {"token": token}).json == {"active": False}
    resp = post(app, "/dex/token/introspect", {"token": "x", "token_type_hint": "weird"})
    assert resp.json["error"] == "unsupported_token_type"


def test_revoked_access_token_is_inactive_and_refused_by_userinfo(app: App) -> None:
    t = tokens_for(app)
    assert post(app, "/dex/token/revoke", {"token": t["access_token"]}).status_code == 200
    assert post(app, "/dex/token/introspect", {"token": t["access_token"]}).json == {
        "active": False
    }
    info = app.client().get(
        "/dex/userinfo", headers={"Authorization": "Bearer " + t["access_token"]}
    )
    assert info.status_code == 401


def test_revoked_refresh_token_cannot_be_used(app: App) -> None:
    t = tokens_for(app)
    resp = post(
        app, "/dex/token/revoke", {"token": t["refresh_token"], "token_type_hint": "refresh_token"}
    )
    assert resp.status_code == 200
    again = post(
        app, "/dex/token", {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}
    )
    assert again.json["error"] == "invalid_grant"


def test_another_client_cannot_revoke(app: App) -> None:
    t = tokens_for(app)
    assert (
        post(app, "/dex/token/revoke", {"token": t["refresh_token"]}, auth=PEER).status_code == 200
    )
    assert (
        post(app, "/dex/token/revoke", {"token": t["access_token"]}, auth=PEER).status_code == 200
    )
    ok = post(
        app, "/dex/token", {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]}
    )
    assert ok.status_code == 200
    info = app.client().get(
        "/dex/userinfo", headers={"Authorization": "Bearer " + t["access_token"]}
    )
    assert info.status_code == 200


def test_revoking_unknown_tokens_is_a_quiet_success(app: App) -> None:
    for token in ("x", "a.b", "zzz.yyy.xxx"):
        assert post(app, "/dex/token/revoke", {"token": token}).status_code == 200
    assert post(app, "/dex/token/revoke", {}).json["error"] == "invalid_request"


def test_revoking_the_refresh_token_revokes_its_access_tokens(app: App) -> None:
    """RFC 7009 §2.1: the access tokens of the same grant die with the refresh token."""
    first = tokens_for(app)
    second = refreshed(app, first["refresh_token"])
    other_login = tokens_for(app)
    assert is_alive(app, first["access_token"]) and is_alive(app, second["access_token"])
    resp = post(
        app,
        "/dex/token/revoke",
        {"token": second["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert resp.status_code == 200
    assert not is_alive(app, first["access_token"])
    assert not is_alive(app, second["access_token"])
    assert is_alive(app, other_login["access_token"])  # another login is another grant


def test_refresh_reuse_revokes_the_access_tokens_of_the_chain(app: App) -> None:
    first = tokens_for(app)
    second = refreshed(app, first["refresh_token"])
    app.clock.advance(seconds=10)  # past reuseInterval: the first secret is now reuse
    replay = post(
        app, "/dex/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert replay.json["error"] == "invalid_grant"
    assert not is_alive(app, first["access_token"])
    assert not is_alive(app, second["access_token"])


def test_code_replay_revokes_access_tokens_issued_by_refreshes(app: App) -> None:
    browser = app.client()
    code = code_from(login_password(browser, auth_params()))["code"]
    first = redeem(browser, code).json
    second = refreshed(app, first["refresh_token"])
    assert redeem(browser, code).json["error"] == "invalid_grant"
    assert not is_alive(app, first["access_token"])
    assert not is_alive(app, second["access_token"])


def test_access_token_lifetime_is_its_own_setting(make_app: Callable[..., App]) -> None:
    app = make_app(expiry={"accessTokens": "10m", "idTokens": "2h"})
    body = tokens_for(app)
    assert body["expires_in"] == 600
    access = tokens.verify(
        app.svc.keys, body["access_token"], issuer=ISSUER, audience=None, clock=app.clock
    )
    assert access["exp"] - access["iat"] == 600
    id_token = tokens.verify(
        app.svc.keys, body["id_token"], issuer=ISSUER, audience="example-app", clock=app.clock
    )
    assert id_token["exp"] - id_token["iat"] == 7200
    app.clock.advance(minutes=11)
    assert not is_alive(app, body["access_token"])


def test_access_tokens_live_as_long_as_id_tokens_by_default(make_app: Callable[..., App]) -> None:
    body = tokens_for(make_app(expiry={"idTokens": "2h"}))
    assert body["expires_in"] == 7200


def published_kids(app: App) -> set[str]:
    return {k["kid"] for k in app.client().get("/dex/keys").json["keys"]}


def test_signing_keys_stay_published_as_long_as_access_tokens_live(
    make_app: Callable[..., App],
) -> None:
    """With ``accessTokens`` longer than ``idTokens``, a retired signing key is kept for the
    access tokens it signed, not just for ID token lifetime."""
    app = make_app(expiry={"accessTokens": "48h", "idTokens": "1h", "signingKeys": "6h"})
    body = tokens_for(app)
    (first_kid,) = published_kids(app)
    app.clock.advance(hours=7)
    assert app.svc.keys.rotate_if_due()  # what the background job does
    app.clock.advance(hours=3)  # the retired key would be gone after idTokens (1h)
    assert len(published_kids(app)) == 2 and first_kid in published_kids(app)
    assert is_alive(app, body["access_token"])


def test_password_grant_access_tokens_die_with_their_refresh_token(app: App) -> None:
    form = {
        "grant_type": "password",
        "username": "admin@example.com",
        "password": "password",
        "scope": "openid offline_access",
    }
    body = post(app, "/dex/token", form).json
    assert is_alive(app, body["access_token"])
    assert post(app, "/dex/token/revoke", {"token": body["refresh_token"]}).status_code == 200
    assert not is_alive(app, body["access_token"])
