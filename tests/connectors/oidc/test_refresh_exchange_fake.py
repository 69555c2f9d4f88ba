"""Refresh through the upstream refresh token, token exchange (RFC 8693) and TLS settings,
against the fake upstream."""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.base import ConnectorError, Scopes
from connectors.oidc import ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, OIDCConnector
from tests.connectors.oidc.conftest import fake_login
from tests.connectors.oidc.fake_upstream import CLIENT_ID, CLIENT_SECRET, serve_fake_upstream
from tests.tls import self_signed_cert

OFFLINE = Scopes(offline_access=True, groups=True)


def test_refresh_uses_the_upstream_refresh_token(fake, make_connector) -> None:
    conn = make_connector()
    ident = fake_login(conn, OFFLINE)
    first_rt = json.loads(ident.connector_data or b"")["refresh_token"]
    fake.groups["alice"] = ["admins", "new-team"]  # changed upstream since the login

    refreshed = conn.refresh(OFFLINE, ident)
    assert refreshed.user_id == "alice"
    assert refreshed.groups == ("admins", "new-team")
    sent = fake.token_requests[-1]["form"]
    assert sent["grant_type"] == "refresh_token" and sent["refresh_token"] == first_rt
    # The upstream rotated its refresh token; the new one is kept for the next refresh.
    second_rt = json.loads(refreshed.connector_data or b"")["refresh_token"]
    assert second_rt != first_rt and second_rt in fake.refresh_tokens
    assert conn.refresh(OFFLINE, refreshed).user_id == "alice"


def test_refresh_with_a_revoked_upstream_token_fails(fake, make_connector) -> None:
    conn = make_connector()
    ident = fake_login(conn, OFFLINE)
    fake.refresh_tokens.clear()  # revoked upstream
    with pytest.raises(ConnectorError, match="invalid_grant"):
        conn.refresh(OFFLINE, ident)


def test_refresh_needs_a_refresh_token(make_connector) -> None:
    conn = make_connector()
    ident = fake_login(conn, OFFLINE)
    for data in (None, b"", b"garbage", b'{"refresh_token": ""}'):
        with pytest.raises(ConnectorError, match="log in again"):
            conn.refresh(OFFLINE, replace(ident, connector_data=data))


def test_refresh_without_id_token_reads_userinfo(fake, make_connector) -> None:
    conn = make_connector()
    ident = fake_login(conn, OFFLINE)
    fake.omit_id_token_on_refresh = True
    fake.userinfo_overrides = {"name": "Alice (userinfo)"}
    assert conn.refresh(OFFLINE, ident).username == "Alice (userinfo)"


def test_refresh_refuses_another_subject(fake, make_connector) -> None:
    conn = make_connector()
    ident = fake_login(conn, OFFLINE)
    fake.claim_overrides["sub"] = "mallory"
    with pytest.raises(ConnectorError, match="another user"):
        conn.refresh(OFFLINE, ident)


def test_refresh_accepts_dex_connector_data(fake, make_connector) -> None:
    """Refresh tokens migrated from Dex carry ``{"RefreshToken": <base64>}``."""
    conn = make_connector()
    ident = fake_login(conn, OFFLINE)
    rt = json.loads(ident.connector_data or b"")["refresh_token"]
    dex_data = json.dumps({"RefreshToken": base64.b64encode(rt.encode()).decode()}).encode()
    assert conn.refresh(OFFLINE, replace(ident, connector_data=dex_data)).user_id == "alice"


def test_refresh_applies_allowed_groups(fake, make_connector) -> None:
    conn = make_connector(allowedGroups=["admins"])
    ident = fake_login(conn, OFFLINE)
    fake.groups["alice"] = ["devs"]  # removed from the allowed group upstream
    with pytest.raises(ConnectorError, match="not a member"):
        conn.refresh(OFFLINE, ident)


def test_token_exchange_with_an_id_token(fake, make_connector) -> None:
    conn = make_connector()
    ident = conn.token_identity(ID_TOKEN_TYPE, fake.id_token("bob"))
    assert (ident.user_id, ident.email, ident.groups) == ("bob", "bob@fake.example.org", ("devs",))
    assert ident.connector_data is None
    fake.claim_overrides["aud"] = "another-client"
    with pytest.raises(ConnectorError, match="wrong audience"):
        conn.token_identity(ID_TOKEN_TYPE, fake.id_token("bob"))


def test_token_exchange_with_an_access_token(fake, make_connector) -> None:
    conn = make_connector()
    fake_login(conn)
    access_token = next(iter(fake.access_tokens))
    assert conn.token_identity(ACCESS_TOKEN_TYPE, access_token).user_id == "alice"
    with pytest.raises(ConnectorError, match="HTTP 401"):
        conn.token_identity(ACCESS_TOKEN_TYPE, "not-a-token")


def test_token_exchange_unknown_type(fake, make_connector) -> None:
    with pytest.raises(ConnectorError, match="Unsupported subject_token_type"):
        make_connector().token_identity("urn:ietf:params:oauth:token-type:saml2", "x")


# --- TLS ---------------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path, common_name="fake upstream")


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_root_cas_and_insecure_skip_verify(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve_fake_upstream(ssl_context=context) as https_fake:
        base = {"issuer": https_fake.issuer, "clientID": CLIENT_ID, "clientSecret": CLIENT_SECRET}
        plain = OIDCConnector.open(base, connector_id="tls")
        trusting = OIDCConnector.open({**base, "rootCAs": [str(cert)]}, connector_id="tls")
        inline = OIDCConnector.open({**base, "rootCAs": [cert.read_text()]}, connector_id="tls")
        insecure = OIDCConnector.open({**base, "insecureSkipVerify": True}, connector_id="tls")
        try:
            with pytest.raises(ConnectorError, match="could not be reached"):
                plain.check()  # an unknown CA is refused
            trusting.check()
            inline.check()
            insecure.check()
            assert https_fake.discovery_requests == 3
        finally:
            for conn in (plain, trusting, inline, insecure):
                conn.close()
