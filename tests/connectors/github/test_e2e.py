"""End to end: a live ``dex-py serve`` whose ``github`` connector points at the fake GitHub
Enterprise Server (``hostName`` + ``rootCA``, as GHE users configure it). A browser, driven
with ``requests``, goes dex-py ``/auth`` -> the fake's authorize page (auto-approves) ->
dex-py ``/callback`` -> approval -> code; the code is redeemed at ``/token`` and the ID token,
checked by an independent verifier, carries the GitHub groups. Refresh re-reads them, and a
revoked GitHub token ends the grant."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.connectors.github.fake_github import FakeGitHub, FakeUser
from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    verify_id_token,
    verify_token_response,
)
from tests.login_flow import follow_login

pytestmark = [pytest.mark.live, pytest.mark.slow]


def browser_login(server: LiveServer, fake: FakeGitHub, ca_path: Path, nonce: str) -> str:
    """Drive the login in a cookie-keeping session; return the redirect to the client."""
    session = requests.Session()
    state = secrets.token_urlsafe(8)
    params = {
        "client_id": EXAMPLE_CLIENT_ID,
        "redirect_uri": EXAMPLE_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid email profile groups offline_access",
        "state": state,
        "nonce": nonce,
        "connector_id": "github",
    }
    resp = session.get(server.url("/auth?" + urlencode(params)), allow_redirects=False, timeout=10)
    visited: list[str] = []
    # The fake's authorize page is HTTPS with the test CA; dex-py is plain HTTP.
    location = follow_login(
        session, resp, verify=str(ca_path), visited=visited, log_tail=server.log_tail, steps=12
    )
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    assert fake.base_url + "/login/oauth/authorize" in visited
    assert server.url("/callback") in visited
    return location


def github_only(fake: FakeGitHub, orgs: list[dict[str, Any]]) -> dict[str, Any]:
    """Config overrides: one ``github`` connector on the fake GHE host, requiring ``orgs``."""
    config = fake.connector_config(orgs=orgs)
    return {
        "connectors": [
            {"type": "github", "id": "github", "name": "GitHub Enterprise", "config": config}
        ]
    }


def token_request(server: LiveServer, **data: str) -> requests.Response:
    return requests.post(
        server.url("/token"),
        data=data,
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )


def test_github_login_through_a_live_server(make_live_server, fake_github, ca_path) -> None:
    user = fake_github.add_user(
        FakeUser(
            id=9001,
            login="octo",
            name="Octo Cat",
            email=None,
            emails=[
                {
                    "email": "octo@users.example",
                    "primary": True,
                    "verified": True,
                    "visibility": "private",
                },
            ],
            orgs=["acme", "other"],
            teams=[("acme", "Platform", "platform"), ("other", "X", "x")],
        )
    )
    fake_github.next_login = "octo"
    server = make_live_server(github_only(fake_github, [{"name": "acme"}]))
    nonce = secrets.token_urlsafe(8)
    callback = browser_login(server, fake_github, ca_path, nonce)
    (authorize,) = fake_github.authorize_requests
    assert authorize["redirect_uri"] == server.url("/callback")
    assert authorize["scope"] == "user:email read:org"

    code = parse_qs(urlsplit(callback).query)["code"][0]
    resp = token_request(
        server, grant_type="authorization_code", code=code, redirect_uri=EXAMPLE_REDIRECT_URI
    )
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    claims = verify_token_response(server.issuer, tokens, audience=EXAMPLE_CLIENT_ID, nonce=nonce)
    assert claims["groups"] == ["acme", "acme:Platform"]
    assert claims["email"] == "octo@users.example" and claims["email_verified"] is True
    assert claims["name"] == "Octo Cat"
    assert claims["preferred_username"] == "octo"

    # Refresh asks GitHub again: the new team shows up.
    user.teams.append(("acme", "SRE", "sre"))
    resp = token_request(server, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    refreshed = resp.json()
    claims = verify_id_token(server.issuer, refreshed["id_token"], audience=EXAMPLE_CLIENT_ID)
    assert claims["groups"] == ["acme", "acme:Platform", "acme:SRE"]

    # The user revokes the app on GitHub: the next refresh fails.
    for token in list(fake_github.tokens):
        fake_github.revoke(token)
    resp = token_request(
        server, grant_type="refresh_token", refresh_token=refreshed["refresh_token"]
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"


def test_live_server_refuses_a_user_outside_the_required_org(
    make_live_server, fake_github, ca_path
) -> None:
    fake_github.add_user(FakeUser(id=7, login="outsider", email="o@x.example", orgs=["other"]))
    fake_github.next_login = "outsider"
    server = make_live_server(github_only(fake_github, [{"name": "acme", "teams": ["platform"]}]))
    session = requests.Session()
    params = {
        "client_id": EXAMPLE_CLIENT_ID,
        "redirect_uri": EXAMPLE_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid groups",
        "state": "s1",
        "connector_id": "github",
    }
    resp = session.get(server.url("/auth?" + urlencode(params)), timeout=10, verify=str(ca_path))
    # requests followed dex-py -> fake authorize -> dex-py /callback, which shows the refusal.
    assert resp.url.startswith(server.url("/callback"))
    assert resp.status_code == 502
    assert "not a member of a required organization or team" in resp.text
