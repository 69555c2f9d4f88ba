"""The connector against the REAL upstream provider (npm oidc-provider, started by
tests/services/oidc_upstream.py): login with groups, refresh through the upstream refresh
token, a public client with PKCE, upstream errors, and token exchange of upstream tokens."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from connectors.base import ConnectorError, Identity, Scopes
from connectors.oidc import ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, OIDCConnector
from tests.connectors.oidc.conftest import (
    DIRECT_CALLBACK,
    UPSTREAM_CLIENT_ID,
    UPSTREAM_CLIENT_SECRET,
    UPSTREAM_PUBLIC_CLIENT_ID,
    Upstream,
    callback_request,
    upstream_connector_config,
)

pytestmark = pytest.mark.slow

OFFLINE = Scopes(offline_access=True, groups=True)


@pytest.fixture
def make_real(upstream: Upstream) -> Iterator[Callable[..., OIDCConnector]]:
    made: list[OIDCConnector] = []

    def make(**overrides: Any) -> OIDCConnector:
        raw = {
            k: v
            for k, v in upstream_connector_config(upstream, **overrides).items()
            if v is not None
        }
        conn = OIDCConnector.open(raw, connector_id="upstream")
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()


def real_login(
    conn: OIDCConnector, dev_login: Callable[..., str], username: str, scopes: Scopes = OFFLINE
) -> Identity:
    url, state = conn.login_url(scopes, DIRECT_CALLBACK, "req-1")
    callback = dev_login(url, DIRECT_CALLBACK, username=username)
    return conn.handle_callback(scopes, callback_request(callback), state)


def test_login_groups_and_refresh(make_real, dev_login, upstream: Upstream) -> None:
    conn = make_real()
    ident = real_login(conn, dev_login, "alice")
    assert ident.user_id == "alice"
    assert (ident.username, ident.preferred_username) == ("Alice", "alice")
    assert (ident.email, ident.email_verified) == ("alice@upstream.example.org", True)
    assert ident.groups == ("upstream-admins", "upstream-devs")
    first = json.loads(ident.connector_data or b"")["refresh_token"]
    assert first

    before = upstream.count_log("POST /token -> 200")
    refreshed = conn.refresh(OFFLINE, ident)
    assert upstream.count_log("POST /token -> 200") == before + 1
    assert refreshed.user_id == "alice"
    assert refreshed.groups == ("upstream-admins", "upstream-devs")
    assert json.loads(refreshed.connector_data or b"")["refresh_token"]
    assert conn.refresh(OFFLINE, refreshed).email == "alice@upstream.example.org"


def test_refresh_with_a_revoked_upstream_token(make_real, dev_login, upstream: Upstream) -> None:
    conn = make_real()
    ident = real_login(conn, dev_login, "bob")
    rt = json.loads(ident.connector_data or b"")["refresh_token"]
    revoked = requests.post(
        upstream.issuer + "/token/revocation",
        data={"token": rt, "token_type_hint": "refresh_token"},
        auth=(UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET),
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(ConnectorError, match="invalid_grant"):
        conn.refresh(OFFLINE, ident)


def test_without_offline_access_no_refresh_token(make_real, dev_login) -> None:
    conn = make_real()
    ident = real_login(conn, dev_login, "carol", Scopes())
    assert ident.groups == ("upstream-users",)
    with pytest.raises(ConnectorError, match="log in again"):
        conn.refresh(Scopes(), ident)


def test_public_client_with_pkce(make_real, dev_login) -> None:
    conn = make_real(clientID=UPSTREAM_PUBLIC_CLIENT_ID, clientSecret=None)
    assert real_login(conn, dev_login, "bob").groups == ("upstream-devs",)


def test_upstream_error_becomes_connector_error(make_real, dev_login) -> None:
    """The public client must use PKCE; without it the upstream redirects back an error."""
    conn = make_real(clientID=UPSTREAM_PUBLIC_CLIENT_ID, clientSecret=None, pkceChallenge=False)
    with pytest.raises(ConnectorError, match="invalid_request"):
        real_login(conn, dev_login, "bob")


def test_get_user_info(make_real, dev_login) -> None:
    conn = make_real(getUserInfo=True, userNameKey="given_name")
    ident = real_login(conn, dev_login, "alice")
    assert ident.username == "alice"  # given_name, read from the merged claims


def _upstream_tokens(
    upstream: Upstream, dev_login: Callable[..., str], client_id: str, secret: str | None
) -> dict[str, Any]:
    """Tokens issued by the upstream straight to ``client_id`` (no dex-py involved)."""
    client = OAuth2Session(
        client_id,
        secret,
        redirect_uri=DIRECT_CALLBACK,
        scope="openid profile email groups",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        code_challenge_method="S256",
    )
    verifier = "v" * 64
    url, _ = client.create_authorization_url(
        upstream.issuer + "/auth", nonce="n-1", code_verifier=verifier
    )
    callback = dev_login(url, DIRECT_CALLBACK, username="alice")
    return dict(
        client.fetch_token(
            upstream.issuer + "/token", authorization_response=callback, code_verifier=verifier
        )
    )


def test_token_exchange_of_upstream_tokens(make_real, dev_login, upstream: Upstream) -> None:
    conn = make_real()
    tokens = _upstream_tokens(upstream, dev_login, UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET)
    ident = conn.token_identity(ID_TOKEN_TYPE, tokens["id_token"])
    assert (ident.user_id, ident.groups) == ("alice", ("upstream-admins", "upstream-devs"))
    assert ident.connector_data is None
    by_access = conn.token_identity(ACCESS_TOKEN_TYPE, tokens["access_token"])
    assert (by_access.user_id, by_access.email) == ("alice", "alice@upstream.example.org")
    with pytest.raises(ConnectorError):
        conn.token_identity(ACCESS_TOKEN_TYPE, tokens["access_token"] + "x")


def test_token_exchange_refuses_another_clients_id_token(
    make_real, dev_login, upstream: Upstream
) -> None:
    conn = make_real()
    tokens = _upstream_tokens(upstream, dev_login, UPSTREAM_PUBLIC_CLIENT_ID, None)
    with pytest.raises(ConnectorError, match="wrong audience"):
        conn.token_identity(ID_TOKEN_TYPE, tokens["id_token"])


def test_check(make_real) -> None:
    make_real().check()
    with pytest.raises(ConnectorError):
        make_real(issuer="http://127.0.0.1:1").check()
