"""The authorization code flow end to end, in process: pages, codes, tokens, claims."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from dex_py.jose import tokens
from tests.oauth.conftest import (
    CLIENT_ID,
    ISSUER,
    REDIRECT,
    App,
    auth_params,
    basic,
    code_from,
    login_password,
    open_password_form,
    pkce_pair,
    redeem,
    submit_password,
)


def verify(app: App, token: str, audience: str | None = CLIENT_ID) -> dict:
    return tokens.verify(app.svc.keys, token, issuer=ISSUER, audience=audience, clock=app.clock)


def test_password_login_issues_verified_tokens(app: App) -> None:
    browser = app.client()
    params = auth_params()
    result = code_from(login_password(browser, params))
    assert result["state"] == params["state"]
    resp = redeem(browser, result["code"])
    assert resp.status_code == 200, resp.json
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert body["token_type"] == "bearer"
    claims = verify(app, body["id_token"])
    assert claims["email"] == "admin@example.com"
    assert claims["email_verified"] is True
    assert claims["groups"] == ["admins"]
    assert claims["name"] == "admin"
    assert claims["nonce"] == params["nonce"]
    assert claims["at_hash"] == tokens.half_hash(body["access_token"], app.svc.keys.algorithm)
    assert tokens.decode_sub(claims["sub"]) == ("08a8684b-db88-4b73-90a9-3cd1661f5466", "local")
    assert "auth_time" in claims
    assert body["refresh_token"]


def test_userinfo_answers_for_the_access_token(app: App) -> None:
    browser = app.client()
    body = redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json
    for call in (
        lambda: browser.get(
            "/dex/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
        ),
        lambda: browser.post("/dex/userinfo", data={"access_token": body["access_token"]}),
    ):
        resp = call()
        assert resp.status_code == 200
        assert resp.json["email"] == "admin@example.com"
        assert resp.json["sub"] == verify(app, body["id_token"])["sub"]


def test_userinfo_refuses_id_tokens_and_garbage(app: App) -> None:
    browser = app.client()
    body = redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json
    for bad in (body["id_token"], "x.y.z", "", "Bearer"):
        resp = browser.get("/dex/userinfo", headers={"Authorization": f"Bearer {bad}"})
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = browser.get("/dex/userinfo?access_token=" + body["access_token"])
    assert resp.status_code == 400


def test_scopes_limit_claims(app: App) -> None:
    browser = app.client()
    code = code_from(login_password(browser, auth_params(scope="openid")))["code"]
    body = redeem(browser, code).json
    claims = verify(app, body["id_token"])
    assert not {"email", "groups", "name"} & set(claims)
    assert "refresh_token" not in body


def test_federated_id_claim(app: App) -> None:
    browser = app.client()
    code = code_from(login_password(browser, auth_params(scope="openid federated:id")))["code"]
    claims = verify(app, redeem(browser, code).json["id_token"])
    assert claims["federated_claims"] == {
        "connector_id": "local",
        "user_id": "08a8684b-db88-4b73-90a9-3cd1661f5466",
    }


def test_cross_client_audience_needs_trusted_peer(app: App) -> None:
    browser = app.client()
    scope = "openid audience:server:client_id:peer-app"
    code = code_from(login_password(browser, auth_params(scope=scope)))["code"]
    claims = verify(app, redeem(browser, code).json["id_token"], audience="peer-app")
    assert claims["aud"] == "peer-app"
    assert claims["azp"] == CLIENT_ID
    # example-app does not trust anyone, so peer-app may not ask for it
    resp = app.client().get(
        "/dex/auth?"
        + urlencode(
            auth_params(
                client_id="peer-app",
                redirect_uri="http://127.0.0.1:5999/cb",
                scope=f"openid audience:server:client_id:{CLIENT_ID}",
            )
        )
    )
    assert resp.status_code == 302
    assert "error=invalid_scope" in resp.headers["Location"]


def test_mock_callback_connector_flow(app: App) -> None:
    browser = app.client()
    params = auth_params(connector_id="mock")
    resp = browser.get("/dex/auth?" + urlencode(params))
    assert resp.status_code == 302 and "/dex/auth/mock?req=" in resp.headers["Location"]
    resp = browser.get(resp.headers["Location"].replace("http://127.0.0.1:5556", ""))
    assert resp.status_code == 302 and "/dex/callback" in resp.headers["Location"]
    resp = browser.get(resp.headers["Location"].replace("http://127.0.0.1:5556", ""))
    assert resp.status_code == 303
    approval = browser.get(resp.headers["Location"].replace("http://127.0.0.1:5556", ""))
    assert b"Kilgore Trout" in approval.data


def test_denied_approval_redirects_access_denied(app: App) -> None:
    resp = login_password(app.client(), auth_params(), approve=False)
    assert resp.status_code == 303
    assert "error=access_denied" in resp.headers["Location"]


def test_skip_approval_screen(make_app: Callable[..., App]) -> None:
    app = make_app(oauth2={"skipApprovalScreen": True})
    browser = app.client()
    form_url, html = open_password_form(browser, auth_params())
    resp = submit_password(browser, form_url, html, "admin@example.com", "password")
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith(REDIRECT + "?code=")


def test_wrong_password_shows_form_again(app: App) -> None:
    resp = login_password(app.client(), auth_params(), password="wrong")
    assert resp.status_code == 401
    assert b"Invalid" in resp.data
    assert app.storage.list_refresh_tokens() == []


def test_pkce_s256_round_trip(app: App) -> None:
    verifier, challenge = pkce_pair()
    browser = app.client()
    params = auth_params(code_challenge=challenge, code_challenge_method="S256")
    code = code_from(login_password(browser, params))["code"]
    assert redeem(browser, code, verifier=verifier).status_code == 200


def test_password_grant(app: App) -> None:
    resp = app.client().post(
        "/dex/token",
        data={
            "grant_type": "password",
            "username": "admin@example.com",
            "password": "password",
            "scope": "openid email offline_access",
        },
        headers=basic(),
    )
    assert resp.status_code == 200, resp.json
    assert verify(app, resp.json["id_token"])["email"] == "admin@example.com"
    assert resp.json["refresh_token"]
    bad = app.client().post(
        "/dex/token",
        data={"grant_type": "password", "username": "admin@example.com", "password": "nope"},
        headers=basic(),
    )
    assert bad.status_code == 400 and bad.json["error"] == "invalid_grant"


def test_discovery_and_keys(app: App) -> None:
    browser = app.client()
    doc = browser.get("/dex/.well-known/openid-configuration")
    assert doc.status_code == 200
    assert doc.json["issuer"] == ISSUER
    assert doc.json["token_endpoint"] == ISSUER + "/token"
    assert doc.json["jwks_uri"] == ISSUER + "/keys"
    assert "S256" in doc.json["code_challenge_methods_supported"]
    assert "max-age" in doc.headers["Cache-Control"]
    keys = browser.get("/dex/keys")
    assert keys.status_code == 200
    kids = [k["kid"] for k in keys.json["keys"]]
    assert app.svc.keys.signer().kid in kids
    assert all("d" not in k for k in keys.json["keys"])


def test_health_endpoints(app: App) -> None:
    browser = app.client()
    assert browser.get("/dex/healthz").status_code == 200
    assert browser.get("/dex/healthz/live").status_code == 200
    ready = browser.get("/dex/healthz/ready")
    assert ready.status_code == 200
    assert ready.json["connectors"] == {"local": "ok", "mock": "ok"}


def test_rfc8414_metadata_locations(app: App) -> None:
    browser = app.client()
    oidc = browser.get("/dex/.well-known/openid-configuration").json
    for path in (
        "/.well-known/oauth-authorization-server/dex",
        "/dex/.well-known/oauth-authorization-server",
    ):
        doc = browser.get(path)
        assert doc.status_code == 200 and doc.json == oidc
    assert oidc["revocation_endpoint"] == ISSUER + "/token/revoke"
    assert oidc["introspection_endpoint"] == ISSUER + "/token/introspect"


def test_unhealthy_connector_is_reported_without_making_the_server_unready(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.base import ConnectorError

    mock = app.svc.connectors.get("mock")
    assert mock is not None and mock.connector is not None

    def down() -> None:
        raise ConnectorError("upstream unreachable")

    monkeypatch.setattr(mock.connector, "check", down)
    ready = app.client().get("/dex/healthz/ready")
    # one unreachable upstream is a detail, not "take this replica out of the load balancer"
    assert ready.status_code == 200
    assert ready.json == {
        "ready": True,
        "storage": "ok",
        "keys": "ok",
        "connectors": {"local": "ok", "mock": "unavailable"},
    }
    page = app.client().get("/dex/auth?" + urlencode(auth_params()))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "/auth/local?" in html and "/auth/mock?" not in html
    assert "Example" in html  # shown as unavailable


def test_dex_style_connector_link_with_full_request(app: App) -> None:
    """Dex links /auth/<connector>?<authorization request>; that must work too."""
    browser = app.client()
    resp = browser.get("/dex/auth/local?" + urlencode(auth_params()))
    assert resp.status_code == 302 and "/dex/auth/local/login?state=" in resp.headers["Location"]
    assert "dexpy_browser=" in resp.headers["Set-Cookie"]
    form = browser.get(resp.headers["Location"].replace("http://127.0.0.1:5556", ""))
    assert form.status_code == 200 and b'name="password"' in form.data
    bad = app.client().get("/dex/auth/local?" + urlencode(auth_params(redirect_uri="http://x/")))
    assert bad.status_code == 400 and "Location" not in bad.headers
