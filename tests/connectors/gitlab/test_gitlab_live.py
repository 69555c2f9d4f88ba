"""End to end: a live ``dex-py serve`` federating the fake GitLab through the ``gitlab``
connector, driven by authlib's client; ID tokens checked by the independent verifier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.connectors.flow import dex_sub, live_login, live_refresh, login_page_error
from tests.connectors.oauth2.fake_upstream import FakeUpstream
from tests.live import LiveServer

pytestmark = pytest.mark.live

CLAIM = "https://gitlab.org/claims/groups/"


def gitlab_connector(upstream: FakeUpstream, **extra: Any) -> dict:
    return {
        "type": "gitlab",
        "id": "gitlab",
        "name": "GitLab",
        "config": {
            "baseURL": upstream.base_url,
            "clientID": upstream.client_id,
            "clientSecret": upstream.client_secret,
            **extra,
        },
    }


@pytest.fixture
def jane(upstream: FakeUpstream) -> FakeUpstream:
    upstream.add(
        "jane",
        user={"id": 31, "username": "jane", "name": "Jane Doe", "email": "jane@example.com"},
        userinfo={"groups": ["acme", "acme/infra", "oss"], CLAIM + "owner": ["acme"]},
    )
    upstream.login_as = "jane"
    return upstream


def test_login_with_permissions_and_refresh(
    jane: FakeUpstream, make_live_server: Callable[..., LiveServer]
):
    server = make_live_server({"connectors": [gitlab_connector(jane, getGroupsPermission=True)]})
    login = live_login(server, "gitlab")
    claims = login.claims
    assert claims["sub"] == dex_sub("31", "gitlab")
    assert claims["email"] == "jane@example.com" and claims["email_verified"] is True
    assert claims["name"] == "Jane Doe" and claims["preferred_username"] == "jane"
    assert claims["groups"] == ["acme", "acme/infra", "oss", "acme:owner", "acme/infra:owner"]
    assert jane.count("/oauth/authorize", scope="read_user openid") == 1

    jane.people["jane"].userinfo["groups"] = ["oss"]
    _, refreshed = live_refresh(server, login)
    assert refreshed["groups"] == ["oss"]
    assert jane.count("/oauth/token", grant_type="refresh_token") == 1


def test_required_groups_and_login_as_id(
    jane: FakeUpstream, make_live_server: Callable[..., LiveServer]
):
    server = make_live_server(
        {
            "connectors": [
                gitlab_connector(jane, groups=["oss", "elsewhere"], useLoginAsID=True),
                {**gitlab_connector(jane, groups=["elsewhere"]), "id": "strict"},
            ]
        }
    )
    login = live_login(server, "gitlab")
    assert login.claims["sub"] == dex_sub("jane", "gitlab")
    assert login.claims["groups"] == ["oss"]

    # a connector requiring a group the user is not in refuses the login
    page = login_page_error(server, "strict")
    assert page.status_code == 502 and "/dex/callback?" in page.url
    assert "not in any of the required groups" in page.text
