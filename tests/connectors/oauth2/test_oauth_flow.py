"""The generic ``oauth`` connector against a fake OAuth 2.0 server: login, claim mapping, groups,
refresh with and without an upstream refresh token, upstream failures, TLS settings."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.base import CallbackRequest, ConnectorError, Identity, Scopes
from connectors.oauth import OAuth2Connector
from tests.connectors.flow import CALLBACK_URL, connector_login
from tests.connectors.oauth2.fake_upstream import FakeUpstream, Grant, serve
from tests.services import free_port
from tests.tls import self_signed_cert

ALL = Scopes(offline_access=True, groups=True)

JANE = {
    "id": 1234,
    "user_name": "Jane Doe",
    "preferred_username": "jane",
    "email": "jane@example.com",
    "email_verified": True,
    "groups": ["admins", {"name": "devs"}, 7, {"id": "no-name"}, "admins"],
}


def make(upstream: FakeUpstream, **config: Any) -> OAuth2Connector:
    base = {
        "clientID": upstream.client_id,
        "clientSecret": upstream.client_secret,
        "authorizationURL": upstream.base_url + "/authorize",
        "tokenURL": upstream.base_url + "/token",
        "userInfoURL": upstream.base_url + "/userinfo",
        "scopes": ["profile", "groups"],
    }
    return OAuth2Connector.open({**base, **config}, connector_id="oauth")


@pytest.fixture
def jane(upstream: FakeUpstream) -> FakeUpstream:
    upstream.add("jane", userinfo=dict(JANE))
    upstream.login_as = "jane"
    return upstream


def test_login_maps_default_keys_and_groups(jane: FakeUpstream):
    identity = connector_login(make(jane), ALL)
    assert identity.user_id == "1234"
    assert identity.username == "Jane Doe"
    assert identity.preferred_username == "jane"
    assert identity.email == "jane@example.com"
    assert identity.email_verified is True
    # strings and {"name": ...} objects, deduplicated; other items ignored
    assert identity.groups == ("admins", "devs")


def test_login_url_carries_client_scopes_redirect_and_pkce(jane: FakeUpstream):
    url, login_state = make(jane).login_url(Scopes(), CALLBACK_URL, "the-state")
    assert url.startswith(jane.base_url + "/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["client_id"] == jane.client_id
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == CALLBACK_URL
    assert query["scope"] == "profile groups"
    assert query["state"] == "the-state"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert login_state is not None and b"the-state" not in login_state


def test_configured_redirect_uri_wins_and_is_used_for_the_code(jane: FakeUpstream):
    conn = make(jane, redirectURI="https://dex.example/dex/callback")
    identity = connector_login(conn, ALL, callback_url="https://dex.example/dex/callback")
    assert identity.user_id == "1234"
    assert jane.count("/token", redirect_uri="https://dex.example/dex/callback") == 1


def test_groups_only_when_requested(jane: FakeUpstream):
    identity = connector_login(make(jane), Scopes())
    assert identity.groups == ()
    assert identity.connector_data is None  # no offline_access: nothing kept


def test_claim_mapping_reads_other_members(upstream: FakeUpstream):
    upstream.add(
        "bob",
        userinfo={
            "sub": "u-77",
            "name": "Bob",
            "login": "bobby",
            "mail": "bob@example.com",
            "verified": "true",  # not a JSON boolean: not verified
            "teams": [{"name": "ops"}],
        },
    )
    upstream.login_as = "bob"
    conn = make(
        upstream,
        userIDKey="sub",
        claimMapping={
            "userNameKey": "name",
            "preferredUsernameKey": "login",
            "emailKey": "mail",
            "emailVerifiedKey": "verified",
            "groupsKey": "teams",
        },
    )
    identity = connector_login(conn, ALL)
    assert (identity.user_id, identity.username, identity.preferred_username) == (
        "u-77",
        "Bob",
        "bobby",
    )
    assert identity.email == "bob@example.com" and identity.email_verified is False
    assert identity.groups == ("ops",)


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [("abc", "abc"), (42, "42"), (42.0, "42"), (1.5, "1.5")],
)
def test_user_id_may_be_a_string_or_number(upstream: FakeUpstream, user_id: Any, expected: str):
    upstream.add("p", userinfo={"id": user_id})
    upstream.login_as = "p"
    assert connector_login(make(upstream), Scopes()).user_id == expected


@pytest.mark.parametrize("userinfo", [{}, {"id": True}, {"id": None}, {"id": ["1"]}, {"id": ""}])
def test_missing_or_unusable_user_id_is_refused(upstream: FakeUpstream, userinfo: dict):
    upstream.add("p", userinfo=userinfo)
    upstream.login_as = "p"
    with pytest.raises(ConnectorError, match="'id'"):
        connector_login(make(upstream), Scopes())


def test_groups_also_come_from_a_jwt_access_token(jane: FakeUpstream):
    jane.jwt_claims = {"groups": ["from-token", {"name": "devs"}]}
    identity = connector_login(make(jane), ALL)
    assert identity.groups == ("admins", "devs", "from-token")


def test_upstream_error_redirect_is_a_safe_connector_error(jane: FakeUpstream):
    jane.deny = "access_denied"
    with pytest.raises(ConnectorError) as exc:
        connector_login(make(jane), ALL)
    assert (
        str(exc.value) == "oauth: the upstream refused the login (access_denied: The user said no)"
    )


def test_callback_without_code_or_login_state(jane: FakeUpstream):
    conn = make(jane)
    _, login_state = conn.login_url(Scopes(), CALLBACK_URL, "s")
    with pytest.raises(ConnectorError, match="did not return an authorization code"):
        conn.handle_callback(Scopes(), CallbackRequest(url=CALLBACK_URL, args={}), login_state)
    with pytest.raises(ConnectorError, match="not started here"):
        conn.handle_callback(Scopes(), CallbackRequest(url=CALLBACK_URL, args={"code": "x"}), None)


def test_wrong_pkce_verifier_is_refused_by_the_upstream(jane: FakeUpstream):
    conn = make(jane)
    _, other_state = conn.login_url(Scopes(), CALLBACK_URL, "other")
    url, _ = conn.login_url(Scopes(), CALLBACK_URL, "s")
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    args = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    with pytest.raises(ConnectorError, match=r"refused \(invalid_grant\)"):
        conn.handle_callback(Scopes(), CallbackRequest(url=location, args=args), other_state)


def test_client_authenticates_with_basic_and_never_sends_the_secret_in_the_body(
    jane: FakeUpstream,
):
    jane.client_auth = "basic"
    connector_login(make(jane), ALL)
    assert jane.count("/token") == 1
    assert all("client_secret" not in form for path, form in jane.calls if path == "/token")


def test_client_falls_back_to_body_credentials_on_invalid_client(jane: FakeUpstream):
    jane.client_auth = "post"
    identity = connector_login(make(jane), ALL)
    assert identity.user_id == "1234"
    assert jane.count("/token") == 2
    assert jane.count("/token", client_id=jane.client_id, client_secret=jane.client_secret) == 1


def test_wrong_client_secret(jane: FakeUpstream):
    with pytest.raises(ConnectorError) as exc:
        connector_login(make(jane, clientSecret="wrong-secret-value"), ALL)
    assert str(exc.value) == "oauth: the token request was refused (invalid_client)"


@pytest.mark.parametrize(
    ("path", "fault", "message"),
    [
        ("/token", (500, "boom"), "oauth: the token request failed (HTTP 500)"),
        (
            "/token",
            (500, '{"error": "temporarily_unavailable"}'),
            "oauth: the token request was refused (temporarily_unavailable)",
        ),
        ("/token", (302, ""), "oauth: the token request failed (HTTP 302)"),
        (
            "/token",
            (200, '{"error": "server_error"}'),
            "oauth: the token response has no access_token",
        ),
        (
            "/token",
            (200, '{"access_token": "unknown", "expires_in": "soon"}'),
            "oauth: the upstream rejected the access token (user info)",
        ),
        ("/token", (200, "{not json"), "oauth: the token response is not valid JSON"),
        (
            "/token",
            (200, '{"token_type": "Bearer"}'),
            "oauth: the token response has no access_token",
        ),
        ("/userinfo", (401, "{}"), "oauth: the upstream rejected the access token (user info)"),
        ("/userinfo", (500, "oops"), "oauth: the user info request failed (HTTP 500)"),
        ("/userinfo", (200, "<html>"), "oauth: the user info response is not a JSON object"),
        ("/userinfo", (200, "[1, 2]"), "oauth: the user info response is not a JSON object"),
    ],
)
def test_upstream_failures_are_connector_errors_without_secrets(
    jane: FakeUpstream, path: str, fault: tuple, message: str
):
    jane.faults[path] = fault
    with pytest.raises(ConnectorError) as exc:
        connector_login(make(jane), ALL)
    assert str(exc.value) == message
    assert jane.client_secret not in str(exc.value)


def test_form_encoded_token_response_is_understood(jane: FakeUpstream):
    jane.faults["/token"] = (
        200,
        "access_token=tok&token_type=bearer",
        "application/x-www-form-urlencoded",
    )
    jane.access["tok"] = Grant("jane", set())
    assert connector_login(make(jane), Scopes()).email == "jane@example.com"


def test_unreachable_upstream():
    port = free_port()
    conn = OAuth2Connector.open(
        {
            "clientID": "c",
            "authorizationURL": f"http://127.0.0.1:{port}/authorize",
            "tokenURL": f"http://127.0.0.1:{port}/token",
            "userInfoURL": f"http://127.0.0.1:{port}/userinfo",
        },
        connector_id="oauth",
    )
    with pytest.raises(ConnectorError, match="oauth: cannot reach the upstream"):
        conn.check()
    with pytest.raises(ConnectorError, match="oauth: cannot reach the upstream"):
        conn.handle_callback(
            Scopes(),
            CallbackRequest(url="x", args={"code": "c"}),
            conn.login_url(Scopes(), CALLBACK_URL, "s")[1],
        )


def test_check_reports_a_failing_upstream(jane: FakeUpstream):
    conn = make(jane)
    conn.check()  # the fake answers 405 to GET /token: reachable
    jane.faults["/token"] = (503, "down")
    with pytest.raises(ConnectorError, match="HTTP 503"):
        conn.check()


# --- refresh --------------------------------------------------------------------------------


def test_refresh_uses_the_upstream_refresh_token_and_rereads_the_user(jane: FakeUpstream):
    conn = make(jane)
    identity = connector_login(conn, ALL)
    data = json.loads(identity.connector_data or b"")
    assert set(data) == {"accessToken", "refreshToken"} and data["refreshToken"]

    jane.people["jane"].userinfo["groups"] = ["admins", "auditors"]
    jane.people["jane"].userinfo["email"] = "jane@new.example"
    refreshed = conn.refresh(ALL, identity)
    assert refreshed.groups == ("admins", "auditors")
    assert refreshed.email == "jane@new.example"
    assert jane.count("/token", grant_type="refresh_token", refresh_token=data["refreshToken"]) == 1
    # the upstream rotated its refresh token: the new one is kept and works
    again = conn.refresh(ALL, refreshed)
    assert json.loads(again.connector_data or b"")["refreshToken"] != data["refreshToken"]
    assert jane.count("/token", grant_type="refresh_token") == 2


def test_refresh_fails_when_the_upstream_revoked_access(jane: FakeUpstream):
    conn = make(jane)
    identity = connector_login(conn, ALL)
    jane.refresh.clear()
    with pytest.raises(ConnectorError, match=r"refused \(invalid_grant\)"):
        conn.refresh(ALL, identity)


def test_refresh_without_an_upstream_refresh_token_keeps_the_identity(jane: FakeUpstream):
    jane.issue_refresh_tokens = False
    conn = make(jane)
    identity = connector_login(conn, ALL)
    assert json.loads(identity.connector_data or b"")["refreshToken"] == ""
    calls = len(jane.calls)
    jane.people["jane"].userinfo["groups"] = ["changed"]
    assert conn.refresh(ALL, identity) == identity
    assert len(jane.calls) == calls  # the upstream was not asked


def test_refresh_without_connector_data_keeps_the_identity(jane: FakeUpstream):
    identity = Identity(user_id="1234", username="Jane Doe")
    assert make(jane).refresh(ALL, identity) == identity


def test_refresh_with_corrupt_connector_data(jane: FakeUpstream):
    identity = Identity(user_id="1", username="x", connector_data=b"{bad")
    with pytest.raises(ConnectorError, match="no upstream token"):
        make(jane).refresh(ALL, identity)


# --- TLS: rootCAs and insecureSkipVerify ------------------------------------------------------


@pytest.fixture
def tls_upstream(tmp_path: Path) -> Iterator[tuple[FakeUpstream, Path]]:
    cert_path, key_path = self_signed_cert(tmp_path, common_name="fake upstream CA")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    fake = FakeUpstream()
    fake.add("jane", userinfo=dict(JANE))
    fake.login_as = "jane"
    server = serve(fake, context)
    yield fake, cert_path
    server.shutdown()
    server.server_close()


def test_tls_upstream_needs_its_ca(tls_upstream: tuple[FakeUpstream, Path]):
    fake, ca = tls_upstream
    untrusted = make(fake)
    url, login_state = untrusted.login_url(Scopes(), CALLBACK_URL, "s")
    with pytest.raises(ConnectorError, match="cannot reach the upstream"):
        untrusted.handle_callback(
            Scopes(), CallbackRequest(url="x", args={"code": "c"}), login_state
        )
    other_ca = make(fake, rootCAs=[requests.certs.where()])
    with pytest.raises(ConnectorError, match="cannot reach the upstream"):
        other_ca.check()
    trusted = make(fake, rootCAs=[str(ca)])
    trusted.check()
    url, login_state = trusted.login_url(Scopes(), CALLBACK_URL, "s")
    location = requests.get(url, allow_redirects=False, timeout=10, verify=str(ca)).headers[
        "Location"
    ]
    args = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    identity = trusted.handle_callback(ALL, CallbackRequest(url=location, args=args), login_state)
    assert identity.user_id == "1234"


def test_insecure_skip_verify_accepts_an_unknown_ca(tls_upstream: tuple[FakeUpstream, Path]):
    fake, _ = tls_upstream
    conn = make(fake, insecureSkipVerify=True)
    conn.check()  # no InsecureRequestWarning either (warnings are errors in this suite)
