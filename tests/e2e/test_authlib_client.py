"""End-to-end flows against a live ``dex-py serve`` (gunicorn), driven by authlib's OAuth 2.0
client and checked with an independent verifier (jwcrypto against ``/keys``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    PUBLIC_CLIENT_ID,
    LiveServer,
    verify_token_response,
)
from tests.login_flow import discovery, example_client, pkce_login

pytestmark = pytest.mark.live


def authorize(
    server: LiveServer, client: OAuth2Session, scope: str, **extra: str
) -> tuple[dict, str]:
    """Run the browser part with requests; return (token response, nonce)."""
    return pkce_login(server, client, scope, ADMIN_EMAIL, ADMIN_PASSWORD, **extra)


def test_code_flow_with_pkce_refresh_and_userinfo(live_issuer: LiveServer) -> None:
    meta = discovery(live_issuer.issuer)
    client = example_client()
    token, nonce = authorize(live_issuer, client, "openid email profile groups offline_access")
    claims = verify_token_response(
        live_issuer.issuer, token, audience=EXAMPLE_CLIENT_ID, nonce=nonce
    )
    assert claims["email"] == ADMIN_EMAIL
    assert "admins" in claims["groups"]

    info = client.get(meta["userinfo_endpoint"])
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"]

    refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    new_claims = verify_token_response(live_issuer.issuer, refreshed, audience=EXAMPLE_CLIENT_ID)
    assert new_claims["sub"] == claims["sub"]

    # the rotated-away refresh token, replayed later, revokes the chain
    replay = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )
    # within reuseInterval (3s) a retry is allowed; force the reuse window to pass
    if replay.status_code == 200:
        import time

        time.sleep(3.2)
        replay = requests.post(
            meta["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
            timeout=10,
        )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    after = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )
    assert after.status_code == 400, "reuse must revoke the whole chain"


def test_public_client_on_a_loopback_port(
    make_live_server: Callable[..., LiveServer],
) -> None:
    server = make_live_server()
    redirect = "http://127.0.0.1:47123/callback"
    client = OAuth2Session(
        PUBLIC_CLIENT_ID,
        redirect_uri=redirect,
        token_endpoint_auth_method="none",
    )
    token, nonce = authorize(server, client, "openid email")
    claims = verify_token_response(server.issuer, token, audience=PUBLIC_CLIENT_ID, nonce=nonce)
    assert claims["email"] == ADMIN_EMAIL


def test_password_grant_live(make_live_server: Callable[..., LiveServer]) -> None:
    server = make_live_server({"oauth2": {"passwordConnector": "local"}})
    meta = discovery(server.issuer)
    client = OAuth2Session(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, scope="openid email")
    token = client.fetch_token(
        meta["token_endpoint"], username=ADMIN_EMAIL, password=ADMIN_PASSWORD
    )
    claims = verify_token_response(server.issuer, token, audience=EXAMPLE_CLIENT_ID)
    assert claims["email"] == ADMIN_EMAIL


def test_each_login_gets_its_own_refresh_token(live_issuer: LiveServer) -> None:
    """Dex keeps one refresh token per user and client; two devices must both keep working."""
    meta = discovery(live_issuer.issuer)

    def new_client() -> OAuth2Session:
        return OAuth2Session(
            EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, redirect_uri=EXAMPLE_REDIRECT_URI
        )

    first, _ = authorize(live_issuer, new_client(), "openid offline_access")
    second, _ = authorize(live_issuer, new_client(), "openid offline_access")
    for token in (first, second):
        resp = requests.post(
            meta["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
