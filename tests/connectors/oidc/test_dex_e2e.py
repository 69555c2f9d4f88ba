"""End to end: a live ``dex-py serve`` whose login method is the ``oidc`` connector, federating
the REAL upstream provider. Logins are driven with requests (dex-py -> upstream dev login ->
dex-py callback -> approval -> client), codes redeemed with authlib's client, ID tokens checked
with an independent verifier."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from connectors.oidc_provider import JWKS_REFETCH_INTERVAL
from tests.connectors.oidc.conftest import CONNECTOR_ID, Upstream
from tests.connectors.oidc.flow import dex_login
from tests.live import EXAMPLE_CLIENT_ID, LiveServer, verify_id_token

pytestmark = [pytest.mark.live, pytest.mark.slow]


def log_in(
    server: LiveServer, upstream: Upstream, dev_login: Callable[..., str], username: str
) -> tuple[dict[str, Any], dict[str, Any], OAuth2Session]:
    """``dex_login`` through this package's upstream and connector."""
    return dex_login(
        server,
        upstream_issuer=upstream.issuer,
        dev_login=dev_login,
        username=username,
        connector_id=CONNECTOR_ID,
    )


def test_login_through_upstream_carries_its_groups(
    oidc_dex: LiveServer, upstream: Upstream, dev_login
) -> None:
    _, claims, _ = log_in(oidc_dex, upstream, dev_login, "alice")
    assert claims["email"] == "alice@upstream.example.org"
    assert claims["email_verified"] is True
    assert claims["name"] == "Alice"
    assert claims["preferred_username"] == "alice"
    assert set(claims["groups"]) == {"upstream-admins", "upstream-devs"}


def test_refresh_goes_through_the_upstream(
    oidc_dex: LiveServer, upstream: Upstream, dev_login
) -> None:
    token, _, client = log_in(oidc_dex, upstream, dev_login, "bob")
    assert token.get("refresh_token")
    before = upstream.count_log("POST /token -> 200")
    refreshed = client.refresh_token(oidc_dex.url("/token"), refresh_token=token["refresh_token"])
    assert upstream.count_log("POST /token -> 200") == before + 1  # dex-py asked upstream
    claims = verify_id_token(oidc_dex.issuer, refreshed["id_token"], audience=EXAMPLE_CLIENT_ID)
    assert claims["groups"] == ["upstream-devs"]
    assert claims["email"] == "bob@upstream.example.org"


def test_upstream_key_rotation(oidc_dex: LiveServer, upstream: Upstream, dev_login) -> None:
    """The upstream restarts with new signing keys (same kids) and forgets its tokens: the old
    refresh token is refused upstream, and a new login verifies after a JWKS re-fetch."""
    token, _, client = log_in(oidc_dex, upstream, dev_login, "alice")
    started = time.monotonic()
    upstream.restart()
    # Re-fetches are rate-limited per process; make sure the interval has passed.
    time.sleep(max(0.0, JWKS_REFETCH_INTERVAL - (time.monotonic() - started)))

    with pytest.raises(OAuthError) as err:
        client.refresh_token(oidc_dex.url("/token"), refresh_token=token["refresh_token"])
    assert err.value.error == "invalid_grant"

    _, claims, _ = log_in(oidc_dex, upstream, dev_login, "alice")
    assert "upstream-admins" in claims["groups"]
    assert upstream.count_log("GET /jwks -> 200") >= 1  # the new keys were fetched


def test_the_server_opened_the_connector(oidc_dex: LiveServer) -> None:
    resp = requests.get(oidc_dex.url("/healthz/ready"), timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["connectors"] == {CONNECTOR_ID: "ok"}
