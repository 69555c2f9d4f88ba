"""End to end: a live ``dex-py serve`` federating the fake OAuth 2.0 server through the ``oauth``
connector, driven by authlib's client; ID tokens checked by the independent verifier."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.connectors.flow import dex_sub, live_login, live_refresh, login_page_error
from tests.connectors.oauth2.fake_upstream import FakeUpstream
from tests.live import EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, LiveServer

pytestmark = pytest.mark.live


def oauth_connector(upstream: FakeUpstream) -> dict:
    return {
        "type": "oauth",
        "id": "myauth",
        "name": "My Auth",
        "config": {
            "clientID": upstream.client_id,
            "clientSecret": upstream.client_secret,
            "authorizationURL": upstream.base_url + "/authorize",
            "tokenURL": upstream.base_url + "/token",
            "userInfoURL": upstream.base_url + "/userinfo",
            "scopes": ["profile"],
            "userIDKey": "uid",
            "claimMapping": {"userNameKey": "name", "preferredUsernameKey": "login"},
        },
    }


def test_login_refresh_and_revocation(
    upstream: FakeUpstream, make_live_server: Callable[..., LiveServer]
):
    upstream.add(
        "jane",
        userinfo={
            "uid": "u-1",
            "name": "Jane Doe",
            "login": "jane",
            "email": "jane@example.com",
            "email_verified": True,
            "groups": ["admins", {"name": "devs"}],
        },
    )
    upstream.login_as = "jane"
    server = make_live_server({"connectors": [oauth_connector(upstream)]})

    login = live_login(server, "myauth")
    claims = login.claims
    assert claims["sub"] == dex_sub("u-1", "myauth")
    assert claims["email"] == "jane@example.com" and claims["email_verified"] is True
    assert claims["name"] == "Jane Doe" and claims["preferred_username"] == "jane"
    assert claims["groups"] == ["admins", "devs"]
    assert upstream.count("/token", grant_type="authorization_code") == 1

    # the upstream changes the user's groups; a refresh at dex-py asks the upstream again
    upstream.people["jane"].userinfo["groups"] = ["admins", "auditors"]
    token, refreshed = live_refresh(server, login)
    assert refreshed["groups"] == ["admins", "auditors"]
    assert refreshed["sub"] == claims["sub"]
    assert upstream.count("/token", grant_type="refresh_token") == 1

    # the upstream revokes its refresh token: dex-py refuses the next refresh
    upstream.refresh.clear()
    resp = requests.post(
        server.url("/token"),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_refresh_without_upstream_refresh_token_keeps_claims(
    upstream: FakeUpstream, make_live_server: Callable[..., LiveServer]
):
    upstream.issue_refresh_tokens = False
    upstream.add("bob", userinfo={"uid": 7, "name": "Bob", "groups": ["ops"]})
    upstream.login_as = "bob"
    server = make_live_server({"connectors": [oauth_connector(upstream)]})

    login = live_login(server, "myauth")
    assert login.claims["sub"] == dex_sub("7", "myauth")
    assert login.claims["groups"] == ["ops"]
    upstream.people["bob"].userinfo["groups"] = ["changed"]
    calls = len(upstream.calls)
    _, refreshed = live_refresh(server, login)
    assert refreshed["groups"] == ["ops"]  # as at login: nothing to refresh upstream with
    assert len(upstream.calls) == calls


def test_upstream_failure_shows_an_error_page(
    upstream: FakeUpstream, make_live_server: Callable[..., LiveServer]
):
    upstream.add("jane", userinfo={"uid": "u-1"})
    upstream.login_as = "jane"
    upstream.faults["/userinfo"] = (500, "boom")
    server = make_live_server({"connectors": [oauth_connector(upstream)]})
    page = login_page_error(server, "myauth")
    assert page.status_code == 502 and "/dex/callback?" in page.url
    assert "oauth: the user info request failed (HTTP 500)" in page.text
