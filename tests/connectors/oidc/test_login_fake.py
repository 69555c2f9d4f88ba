"""The login round trip against a fake upstream we control: the authorization URL, the code
exchange (client auth, PKCE, redirect URI), callback errors, discovery and userinfo."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests

from connectors.base import ConnectorError, Scopes
from tests.connectors.oidc.conftest import (
    FAKE_CALLBACK,
    callback_request,
    fake_login,
    start_login,
)
from tests.connectors.oidc.fake_upstream import CLIENT_ID, CLIENT_SECRET


def test_login_returns_the_upstream_identity(fake, make_connector) -> None:
    ident = fake_login(make_connector(), Scopes(offline_access=True, groups=True))
    assert ident.user_id == "alice"
    assert (ident.username, ident.preferred_username) == ("Alice", "alice")
    assert (ident.email, ident.email_verified) == ("alice@fake.example.org", True)
    assert ident.groups == ("admins", "devs")
    data = json.loads(ident.connector_data or b"")
    assert data["sub"] == "alice"
    assert data["refresh_token"] in fake.refresh_tokens  # the upstream's live refresh token
    sent = fake.token_requests[-1]
    assert sent["basic"] is True and "client_secret" not in sent["form"]
    assert sent["form"]["redirect_uri"] == FAKE_CALLBACK


def test_login_url_parameters(fake, make_connector) -> None:
    conn = make_connector()
    url, params, state = start_login(conn)
    assert url.startswith(fake.issuer + "/auth?")
    assert params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code"
    assert params["state"] == "auth-req-1"
    assert params["redirect_uri"] == FAKE_CALLBACK
    assert params["scope"] == "openid profile email groups"
    assert "prompt" not in params and "code_challenge" not in params
    saved = json.loads(state or b"")
    assert saved["nonce"] == params["nonce"] and len(params["nonce"]) >= 20
    # A fresh nonce per login.
    assert start_login(conn)[1]["nonce"] != params["nonce"]


def test_offline_access_adds_scope_and_prompt(make_connector) -> None:
    _, params, _ = start_login(make_connector(), Scopes(offline_access=True))
    assert params["scope"].split() == ["openid", "profile", "email", "groups", "offline_access"]
    assert params["prompt"] == "consent"
    _, params, _ = start_login(make_connector(promptType=""), Scopes(offline_access=True))
    assert "prompt" not in params
    _, params, _ = start_login(make_connector(promptType="login"), Scopes(offline_access=True))
    assert params["prompt"] == "login"


def test_offline_access_for_a_provider_without_that_scope(fake, make_connector) -> None:
    fake.discovery_overrides["scopes_supported"] = ["openid", "email", "profile"]
    _, params, _ = start_login(make_connector(), Scopes(offline_access=True))
    assert "offline_access" not in params["scope"].split()
    assert params["access_type"] == "offline"


def test_redirect_uri_hd_and_acr_values(make_connector) -> None:
    conn = make_connector(
        redirectURI="https://dex.example.com/dex/callback",
        hostedDomains=["a.org", "b.org"],
        acrValues=["mfa", "phr"],
    )
    _, params, _ = start_login(conn)
    assert params["redirect_uri"] == "https://dex.example.com/dex/callback"
    assert params["hd"] == "*"
    assert params["acr_values"] == "mfa phr"


def test_pkce_s256(fake, make_connector) -> None:
    conn = make_connector(pkceChallenge=True)
    _, params, state = start_login(conn)
    verifier = json.loads(state or b"")["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert params["code_challenge_method"] == "S256"
    url, _, _ = start_login(conn)  # (start_login again: the fake remembers this challenge)
    req = callback_request(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])
    # Another login's verifier does not match this login's challenge: the fake refuses it.
    with pytest.raises(ConnectorError, match="invalid_grant"):
        conn.handle_callback(Scopes(), req, state)
    assert fake.token_requests[-1]["form"]["code_verifier"] == verifier
    assert fake_login(conn).user_id == "alice"


def test_basic_auth_unsupported_posts_the_secret(fake, make_connector) -> None:
    fake_login(make_connector(basicAuthUnsupported=True))
    sent = fake.token_requests[-1]
    assert sent["basic"] is False
    assert sent["form"]["client_secret"] == CLIENT_SECRET


def test_wrong_client_secret_is_a_connector_error(make_connector) -> None:
    with pytest.raises(ConnectorError, match="invalid_client"):
        fake_login(make_connector(clientSecret="wrong"))


def test_upstream_error_parameter(make_connector) -> None:
    req = callback_request(FAKE_CALLBACK + "?error=access_denied&error_description=User+said+no")
    with pytest.raises(ConnectorError, match="access_denied: User said no"):
        make_connector().handle_callback(Scopes(), req, b'{"nonce": "n"}')


def test_callback_needs_login_state(fake, make_connector) -> None:
    conn = make_connector()
    url, _, _ = start_login(conn)
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    with pytest.raises(ConnectorError, match="no saved state"):
        conn.handle_callback(Scopes(), callback_request(location), None)


def test_callback_iss_must_match(fake, make_connector) -> None:
    """RFC 9207: a response naming another issuer, or none when the provider promises one."""
    conn = make_connector()
    url, _, state = start_login(conn)
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    req = callback_request(location)
    forged = callback_request(location.replace("iss=", "iss=https%3A%2F%2Fevil.example&x="))
    with pytest.raises(ConnectorError, match="unexpected issuer"):
        conn.handle_callback(Scopes(), forged, state)
    without = type(req)(url=req.url, args={k: v for k, v in req.args.items() if k != "iss"})
    with pytest.raises(ConnectorError, match="unexpected issuer"):
        conn.handle_callback(Scopes(), without, state)
    assert conn.handle_callback(Scopes(), req, state).user_id == "alice"


def test_replayed_code_is_refused(fake, make_connector) -> None:
    conn = make_connector()
    url, _, state = start_login(conn)
    req = callback_request(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])
    conn.handle_callback(Scopes(), req, state)
    with pytest.raises(ConnectorError, match="invalid_grant"):
        conn.handle_callback(Scopes(), req, state)


def test_discovery_is_lazy_cached_and_issuer_checked(fake, make_connector) -> None:
    conn = make_connector()
    assert fake.discovery_requests == 0  # opening contacts nobody
    start_login(conn)
    start_login(conn)
    assert fake.discovery_requests == 1
    conn.check()  # health checks do ask the upstream
    assert fake.discovery_requests == 2

    fake.discovery_overrides["issuer"] = fake.issuer + "/other"
    fresh = make_connector()
    with pytest.raises(ConnectorError, match="issuer does not match"):
        start_login(fresh)
    with pytest.raises(ConnectorError, match="issuer does not match"):
        fresh.check()


def test_provider_discovery_overrides(fake, make_connector) -> None:
    dead = "http://127.0.0.1:1"
    fake.discovery_overrides.update(token_endpoint=dead + "/token", jwks_uri=dead + "/jwks")
    with pytest.raises(ConnectorError, match="could not complete the code exchange"):
        fake_login(make_connector())
    conn = make_connector(
        providerDiscoveryOverrides={
            "tokenURL": fake.issuer + "/token",
            "jwksURL": fake.issuer + "/jwks",
        }
    )
    assert fake_login(conn).user_id == "alice"
    moved = make_connector(
        providerDiscoveryOverrides={"authURL": "https://login.example/authorize"}
    )
    assert start_login(moved)[0].startswith("https://login.example/authorize?")


def test_get_user_info_merges_claims(fake, make_connector) -> None:
    fake.userinfo_overrides = {"name": "Alice From Userinfo", "groups": ["from-userinfo"]}
    ident = fake_login(make_connector(getUserInfo=True))
    assert ident.username == "Alice From Userinfo"
    assert ident.groups == ("from-userinfo",)
    assert fake_login(make_connector()).username == "Alice"  # not asked: ID token only


def test_userinfo_for_another_subject_is_refused(fake, make_connector) -> None:
    fake.userinfo_overrides = {"sub": "mallory"}
    with pytest.raises(ConnectorError, match="another user"):
        fake_login(make_connector(getUserInfo=True))


def test_allowed_groups_refuse_login(fake, make_connector) -> None:
    conn = make_connector(allowedGroups=["admins"])
    assert fake_login(conn).groups == ("admins",)
    fake.login_user = "bob"
    with pytest.raises(ConnectorError, match="not a member"):
        fake_login(conn)


def test_missing_email_verified(fake, make_connector) -> None:
    fake.claim_overrides["email_verified"] = None
    with pytest.raises(ConnectorError, match="email_verified"):
        fake_login(make_connector())
    assert fake_login(make_connector(insecureSkipEmailVerified=True)).email_verified is True


def test_at_hash_is_checked_when_present(fake, make_connector) -> None:
    fake.claim_overrides["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(ConnectorError, match="at_hash"):
        fake_login(make_connector())
