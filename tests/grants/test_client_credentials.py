"""The client credentials grant (RFC 6749 §4.4): opt-in, confidential clients only, an access
token about the client itself."""

from __future__ import annotations

from collections.abc import Callable

from tests.grants.conftest import (
    MACHINE_ID,
    MACHINE_SECRET,
    basic_auth,
    machine_overrides,
    read_jwt,
)
from tests.oauth.conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, App


def cc(app: App, scope: str | None = None, **headers: str) -> tuple[int, dict]:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    resp = app.client().post(
        "/dex/token", data=data, headers=headers or basic_auth(MACHINE_ID, MACHINE_SECRET)
    )
    return resp.status_code, resp.get_json()


def test_issues_an_access_token_about_the_client(machine_app: App) -> None:
    status, body = cc(machine_app)
    assert status == 200, body
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 24 * 3600
    header, claims = read_jwt(machine_app, body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == ISSUER
    assert claims["sub"] == MACHINE_ID  # RFC 9068 §2.2: the client itself
    assert claims["client_id"] == MACHINE_ID
    assert claims["aud"] == MACHINE_ID
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert claims["iat"] == int(machine_app.clock.now().timestamp())
    assert not {"email", "groups", "name", "preferred_username"} & set(claims)


def test_user_scopes_are_dropped_and_reported(machine_app: App) -> None:
    status, body = cc(machine_app, scope="openid email groups offline_access")
    assert status == 200, body
    assert "id_token" not in body and "refresh_token" not in body
    assert body["scope"] == ""  # RFC 6749 §5.1: granted scope differs from the request
    _, claims = read_jwt(machine_app, body["access_token"])
    assert claims["scope"] == ""


def test_cross_client_audience_needs_a_trusting_peer(make_app: Callable[..., App]) -> None:
    peer = {"id": "api", "secret": "api-secret-api-secret", "trustedPeers": [MACHINE_ID]}
    app = make_app(**machine_overrides(clients=[peer]))
    status, body = cc(app, scope="audience:server:client_id:api")
    assert status == 200, body
    _, claims = read_jwt(app, body["access_token"])
    assert claims["aud"] == "api" and claims["azp"] == MACHINE_ID
    assert "scope" not in body  # granted as asked
    status, body = cc(app, scope="audience:server:client_id:peer-app")  # does not trust us
    assert status == 400 and body["error"] == "invalid_scope"


def test_introspection_sees_the_client_token(machine_app: App) -> None:
    _, body = cc(machine_app)
    resp = machine_app.client().post(
        "/dex/token/introspect",
        data={"token": body["access_token"]},
        headers=basic_auth(MACHINE_ID, MACHINE_SECRET),
    )
    info = resp.get_json()
    assert info["active"] is True and info["sub"] == MACHINE_ID
    assert info["client_id"] == MACHINE_ID


def test_refused_for_a_client_that_did_not_opt_in(machine_app: App) -> None:
    # example-app has no grantTypes: every *usual* grant, but never client_credentials.
    status, body = cc(machine_app, **basic_auth(CLIENT_ID, CLIENT_SECRET))
    assert status == 400 and body["error"] == "unauthorized_client"


def test_refused_for_a_public_client(machine_app: App) -> None:
    resp = machine_app.client().post(
        "/dex/token", data={"grant_type": "client_credentials", "client_id": "public-machine"}
    )
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"] == "unauthorized_client"


def test_refused_with_a_wrong_secret(machine_app: App) -> None:
    status, body = cc(machine_app, **basic_auth(MACHINE_ID, "wrong-secret-wrong"))
    assert status == 401 and body["error"] == "invalid_client"


def test_refused_when_the_server_does_not_enable_it(make_app: Callable[..., App]) -> None:
    app = make_app(**machine_overrides(grants=["authorization_code", "refresh_token"]))
    status, body = cc(app)
    assert status == 400 and body["error"] == "unsupported_grant_type"


def test_userinfo_refuses_a_token_without_an_end_user(machine_app: App) -> None:
    status, body = cc(machine_app)
    assert status == 200
    resp = machine_app.client().get(
        "/dex/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}
    )
    assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_token"
