"""The ``gitlab`` connector: config parsing, and logins against a fake GitLab speaking GitLab's
documented API (``/oauth/authorize``, ``/oauth/token``, ``/api/v4/user``, ``/oauth/userinfo``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import connectors
from connectors.base import ConnectorConfigError, ConnectorError, Identity, Scopes, parse_config
from connectors.gitlab import GitLabConnector, with_permissions
from tests.connectors.flow import CALLBACK_URL, connector_login
from tests.connectors.oauth2.fake_upstream import FakeUpstream

ALL = Scopes(offline_access=True, groups=True)
CLAIM = "https://gitlab.org/claims/groups/"


def make(upstream: FakeUpstream, **config: Any) -> GitLabConnector:
    base = {
        "baseURL": upstream.base_url,
        "clientID": upstream.client_id,
        "clientSecret": upstream.client_secret,
    }
    return GitLabConnector.open({**base, **config}, connector_id="gitlab")


@pytest.fixture
def jane(upstream: FakeUpstream) -> FakeUpstream:
    upstream.add(
        "jane",
        user={
            "id": 31,
            "username": "jane",
            "name": "Jane Doe",
            "email": "jane@example.com",
            "state": "active",
        },
        userinfo={
            "sub": "31",
            "nickname": "jane",
            "groups": ["acme", "acme/infra", "acme/web", "oss"],
            CLAIM + "owner": ["acme/infra"],
            CLAIM + "maintainer": ["acme", "oss"],
            CLAIM + "developer": ["acme/web", "oss"],
        },
    )
    upstream.login_as = "jane"
    return upstream


# --- config ---------------------------------------------------------------------------------


def test_config_defaults_and_every_key():
    cfg = parse_config(GitLabConnector.Config, {"clientID": "a", "clientSecret": "b"})
    assert cfg.base_url == "https://gitlab.com"
    assert (cfg.redirect_uri, cfg.groups, cfg.use_login_as_id, cfg.get_groups_permission) == (
        "",
        (),
        False,
        False,
    )
    cfg = parse_config(
        GitLabConnector.Config,
        {
            "baseURL": "https://git.example.com/",
            "clientID": "a",
            "clientSecret": "b",
            "redirectURI": "https://dex.example/dex/callback",
            "groups": ["g1", "g2/sub"],
            "useLoginAsID": True,
            "getGroupsPermission": True,
        },
    )
    assert cfg.base_url == "https://git.example.com/"
    assert cfg.redirect_uri == "https://dex.example/dex/callback"
    assert cfg.groups == ("g1", "g2/sub")
    assert cfg.use_login_as_id is True and cfg.get_groups_permission is True


def test_config_errors_name_their_paths():
    with pytest.raises(ConnectorConfigError) as exc:
        GitLabConnector.open(
            {"groups": "admins", "useLoginAsID": 1, "rootCAs": []}, connector_id="g"
        )
    assert dict(exc.value.errors) == {
        "config.clientID": "required",
        "config.clientSecret": "required",
        "config.groups": "must be a list",
        "config.useLoginAsID": "must be true or false",
        "config.rootCAs": "unknown key",
    }
    with pytest.raises(ConnectorConfigError) as exc:
        GitLabConnector.open(
            {"clientID": "", "clientSecret": "", "baseURL": "gitlab.example.com"},
            connector_id="g",
        )
    assert dict(exc.value.errors) == {
        "config.clientID": "must not be empty",
        "config.clientSecret": "must not be empty",
        "config.baseURL": "must be an absolute http:// or https:// URL",
    }


def test_registered_as_dex_type_gitlab():
    assert connectors.resolve("gitlab") is GitLabConnector
    assert connectors.validate_connector_config("gitlab", {"clientID": "a"}) == [
        ("config.clientSecret", "required")
    ]


# --- login ----------------------------------------------------------------------------------


def test_login_reads_the_user_and_groups(jane: FakeUpstream):
    identity = connector_login(make(jane), ALL)
    assert identity.user_id == "31"
    assert identity.username == "Jane Doe"
    assert identity.preferred_username == "jane"
    assert identity.email == "jane@example.com" and identity.email_verified is True
    assert identity.groups == ("acme", "acme/infra", "acme/web", "oss")
    data = json.loads(identity.connector_data or b"")
    assert data["accessToken"] and data["refreshToken"]


def test_login_url_asks_openid_only_when_groups_are_needed(jane: FakeUpstream):
    def scope_of(conn: GitLabConnector, scopes: Scopes) -> str:
        url, _ = conn.login_url(scopes, CALLBACK_URL, "s")
        assert url.startswith(jane.base_url + "/oauth/authorize?")
        query = parse_qs(urlsplit(url).query)
        assert query["redirect_uri"] == [CALLBACK_URL]
        assert query["code_challenge_method"] == ["S256"]
        return query["scope"][0]

    assert scope_of(make(jane), Scopes()) == "read_user"
    assert scope_of(make(jane), Scopes(groups=True)) == "read_user openid"
    assert scope_of(make(jane, groups=["acme"]), Scopes()) == "read_user openid"


def test_without_groups_scope_no_groups_and_no_userinfo_call(jane: FakeUpstream):
    identity = connector_login(make(jane), Scopes())
    assert identity.groups == ()
    assert identity.connector_data is None
    assert jane.count("/oauth/userinfo") == 0


def test_username_falls_back_to_email_and_login_as_id(jane: FakeUpstream):
    jane.people["jane"].user["name"] = ""
    identity = connector_login(make(jane, useLoginAsID=True), Scopes())
    assert identity.user_id == "jane"
    assert identity.username == "jane@example.com"


def test_permission_suffixes(jane: FakeUpstream):
    identity = connector_login(make(jane, getGroupsPermission=True), ALL)
    assert identity.groups == (
        "acme",
        "acme/infra",
        "acme/web",
        "oss",
        "acme:maintainer",
        "acme/infra:owner",  # owner beats the maintainer role inherited from acme
        "acme/web:maintainer",  # inherited from acme; beats the direct developer role
        "oss:maintainer",
    )


def test_with_permissions_matches_whole_path_segments():
    claims = {CLAIM + "owner": ["acme"], CLAIM + "developer": ["x"]}
    assert with_permissions(["acme", "acme/a", "acmecorp", "x/y", "z"], claims) == [
        "acme",
        "acme/a",
        "acmecorp",
        "x/y",
        "z",
        "acme:owner",
        "acme/a:owner",
        "x/y:developer",
    ]
    assert with_permissions(["a"], {CLAIM + "owner": "a"}) == ["a"]  # not a list: ignored


def test_required_groups_filter_and_refuse(jane: FakeUpstream):
    identity = connector_login(make(jane, groups=["oss", "other"]), Scopes())
    assert identity.groups == ("oss",)
    with pytest.raises(ConnectorError) as exc:
        connector_login(make(jane, groups=["not-mine"]), ALL)
    assert str(exc.value) == "gitlab: user 'jane' is not in any of the required groups"


def test_required_groups_match_permission_suffixed_names(jane: FakeUpstream):
    conn = make(jane, groups=["acme/infra:owner"], getGroupsPermission=True)
    assert connector_login(conn, ALL).groups == ("acme/infra:owner",)


def test_denied_authorization(jane: FakeUpstream):
    jane.deny = "access_denied"
    with pytest.raises(ConnectorError, match=r"^gitlab: the upstream refused the login"):
        connector_login(make(jane), ALL)


@pytest.mark.parametrize(
    ("path", "fault", "message"),
    [
        ("/oauth/token", (401, '{"error": "invalid_client"}'), "refused (invalid_client)"),
        ("/oauth/token", (500, "{}"), "the token request failed (HTTP 500)"),
        ("/oauth/token", (200, "not json"), "the token response is not valid JSON"),
        ("/api/v4/user", (401, '{"message": "401"}'), "rejected the access token (user)"),
        ("/api/v4/user", (500, "{}"), "the user request failed (HTTP 500)"),
        ("/api/v4/user", (200, "<html>"), "the user response is not a JSON object"),
        ("/api/v4/user", (200, '{"id": "31", "username": "j"}'), "has no numeric id"),
        ("/api/v4/user", (200, '{"id": 31}'), "has no username"),
        ("/oauth/userinfo", (403, "{}"), "the groups request failed (HTTP 403)"),
        ("/oauth/userinfo", (200, "{bad"), "the groups response is not a JSON object"),
    ],
)
def test_upstream_failures(jane: FakeUpstream, path: str, fault: tuple, message: str):
    jane.faults[path] = fault
    with pytest.raises(ConnectorError) as exc:
        connector_login(make(jane), ALL)
    assert str(exc.value).startswith("gitlab: ") and message in str(exc.value)
    assert jane.client_secret not in str(exc.value)


def test_groups_claim_missing_means_no_groups(jane: FakeUpstream):
    jane.people["jane"].userinfo = {"sub": "31"}
    assert connector_login(make(jane), ALL).groups == ()


# --- refresh --------------------------------------------------------------------------------


def test_refresh_uses_the_gitlab_refresh_grant(jane: FakeUpstream):
    conn = make(jane, getGroupsPermission=True)
    identity = connector_login(conn, ALL)
    old = json.loads(identity.connector_data or b"")
    jane.people["jane"].userinfo["groups"] = ["oss"]
    jane.people["jane"].user["email"] = "jane@new.example"
    refreshed = conn.refresh(ALL, identity)
    assert refreshed.groups == ("oss", "oss:maintainer")
    assert refreshed.email == "jane@new.example"
    assert jane.count("/oauth/token", grant_type="refresh_token", refresh_token=old["refreshToken"])
    new = json.loads(refreshed.connector_data or b"")
    assert new["refreshToken"] != old["refreshToken"]  # GitLab rotates; the new one is kept
    assert conn.refresh(ALL, refreshed).user_id == "31"


def test_refresh_refuses_a_user_who_left_the_required_groups(jane: FakeUpstream):
    conn = make(jane, groups=["acme"])
    identity = connector_login(conn, ALL)
    jane.people["jane"].userinfo["groups"] = ["oss"]
    with pytest.raises(ConnectorError, match="not in any of the required groups"):
        conn.refresh(ALL, identity)


def test_refresh_with_a_revoked_refresh_token(jane: FakeUpstream):
    conn = make(jane)
    identity = connector_login(conn, ALL)
    jane.refresh.clear()
    with pytest.raises(ConnectorError, match=r"refused \(invalid_grant\)"):
        conn.refresh(ALL, identity)


def test_refresh_with_only_an_access_token_rereads_the_user(jane: FakeUpstream):
    jane.issue_refresh_tokens = False
    conn = make(jane)
    identity = connector_login(conn, ALL)
    jane.people["jane"].user["name"] = "Jane Q. Doe"
    assert conn.refresh(ALL, identity).username == "Jane Q. Doe"
    assert jane.count("/oauth/token", grant_type="refresh_token") == 0
    jane.access.clear()  # the access token expired upstream
    with pytest.raises(ConnectorError, match="rejected the access token"):
        conn.refresh(ALL, identity)


def test_refresh_without_stored_tokens(jane: FakeUpstream):
    with pytest.raises(ConnectorError, match="no upstream token"):
        make(jane).refresh(ALL, Identity(user_id="31", username="Jane"))
