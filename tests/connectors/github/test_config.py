"""Config parsing of the ``github`` connector: every Dex key, defaults, and errors with key
paths; the registry entry; where the OAuth and API endpoints live."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import connectors
from connectors.base import ConnectorConfigError, Scopes
from connectors.github import GitHubConfig, GitHubConnector, GitHubOrg

BASE = {"clientID": "id", "clientSecret": "secret"}


def errors_of(config: dict) -> dict[str, str]:
    with pytest.raises(ConnectorConfigError) as info:
        GitHubConnector.open(config, connector_id="github")
    return dict(info.value.errors)


def test_every_key_is_parsed(ca_path: Path) -> None:
    conn = GitHubConnector.open(
        {
            "clientID": "cid",
            "clientSecret": "csecret",
            "redirectURI": "https://dex.example.com/dex/callback",
            "orgs": [{"name": "acme", "teams": ["platform", "sre"]}, {"name": "oss"}],
            "loadAllGroups": True,
            "teamNameField": "both",
            "useLoginAsID": True,
            "hostName": "github.acme.internal",
            "rootCA": str(ca_path),
            "preferredEmailDomain": "*.acme.com",
        },
        connector_id="gh",
    )
    assert conn.config == GitHubConfig(
        client_id="cid",
        client_secret="csecret",
        redirect_uri="https://dex.example.com/dex/callback",
        orgs=(GitHubOrg("acme", ("platform", "sre")), GitHubOrg("oss", ())),
        load_all_groups=True,
        team_name_field="both",
        use_login_as_id=True,
        host_name="github.acme.internal",
        root_ca=str(ca_path),
        preferred_email_domain="*.acme.com",
    )
    assert conn.connector_id == "gh"
    assert conn.endpoints.verify == str(ca_path)


def test_defaults() -> None:
    cfg = GitHubConnector.open(dict(BASE), connector_id="github").config
    assert (cfg.redirect_uri, cfg.org, cfg.orgs, cfg.team_name_field) == ("", "", (), "name")
    assert not cfg.load_all_groups and not cfg.use_login_as_id
    assert (cfg.host_name, cfg.root_ca, cfg.preferred_email_domain) == ("", "", "")


def test_legacy_org_is_accepted() -> None:
    assert GitHubConnector.open({**BASE, "org": "acme"}, connector_id="g").config.org == "acme"


def test_missing_credentials_are_reported_with_paths() -> None:
    assert errors_of({}) == {"config.clientID": "required", "config.clientSecret": "required"}
    assert errors_of({"clientID": "", "clientSecret": ""}) == {
        "config.clientID": "must not be empty",
        "config.clientSecret": "must not be empty",
    }


@pytest.mark.parametrize(
    ("extra", "path", "fragment"),
    [
        ({"teamNameField": "id"}, "config.teamNameField", "name, slug, both"),
        ({"org": "a", "orgs": [{"name": "b"}]}, "config.org", "together with orgs"),
        ({"orgs": [{"teams": ["x"]}]}, "config.orgs[0].name", "required"),
        ({"orgs": [{"name": ""}]}, "config.orgs[0].name", "must not be empty"),
        ({"orgs": [{"name": "a", "teams": ["ok", ""]}]}, "config.orgs[0].teams[1]", "empty"),
        ({"orgs": [{"name": "a", "team": ["x"]}]}, "config.orgs[0].team", "unknown key"),
        ({"orgs": {"name": "a"}}, "config.orgs", "must be a list"),
        ({"orgs": ["acme"]}, "config.orgs[0]", "must be a mapping"),
        ({"loadAllGroups": "yes"}, "config.loadAllGroups", "true or false"),
        ({"useLoginAsID": 1}, "config.useLoginAsID", "true or false"),
        ({"hostName": "https://ghe.example"}, "config.hostName", "not a URL"),
        ({"redirectURI": "/dex/callback"}, "config.redirectURI", "absolute"),
        ({"preferredEmailDomain": "acme.*"}, "config.preferredEmailDomain", "domain"),
        ({"clientId": "typo"}, "config.clientId", "unknown key"),
    ],
)
def test_bad_values_name_their_key(extra: dict, path: str, fragment: str) -> None:
    errors = errors_of({**BASE, **extra})
    assert path in errors, errors
    assert fragment in errors[path]


def test_unreadable_root_ca_fails_at_open(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    errors = errors_of({**BASE, "hostName": "ghe.example", "rootCA": str(missing)})
    assert "cannot read" in errors["config.rootCA"]
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    errors = errors_of({**BASE, "hostName": "ghe.example", "rootCA": str(not_pem)})
    assert "no PEM certificate" in errors["config.rootCA"]


def test_root_ca_without_host_name_is_ignored_like_dex(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level(logging.WARNING):
        conn = GitHubConnector.open(
            {**BASE, "rootCA": str(tmp_path / "absent.pem")}, connector_id="github"
        )
    assert conn.config.root_ca == ""
    assert conn.endpoints.verify is True
    assert "rootCA is ignored" in caplog.text


def test_registry_knows_github_and_validates_without_network() -> None:
    assert connectors.resolve("github") is GitHubConnector
    assert connectors.validate_connector_config("github", dict(BASE)) == []
    assert ("config.teamNameField", "must be one of name, slug, both") in (
        connectors.validate_connector_config("github", {**BASE, "teamNameField": "x"})
    )
    conn = connectors.open_connector("github", dict(BASE), connector_id="gh")
    assert isinstance(conn, GitHubConnector)


def _authorize(conn: GitHubConnector, scopes: Scopes | None = None) -> tuple[str, dict[str, str]]:
    url, _state = conn.login_url(scopes or Scopes(), "https://dex.example/dex/callback", "req-1")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {
        k: v[0] for k, v in parse_qs(parts.query).items()
    }


def test_github_com_endpoints_and_minimal_scope() -> None:
    conn = GitHubConnector.open(dict(BASE), connector_id="github")
    assert conn.endpoints.api_base == "https://api.github.com"
    assert conn.endpoints.token_url == "https://github.com/login/oauth/access_token"
    endpoint, query = _authorize(conn, Scopes(groups=True))
    assert endpoint == "https://github.com/login/oauth/authorize"
    assert query == {
        "client_id": "id",
        "redirect_uri": "https://dex.example/dex/callback",
        "scope": "user:email",
        "state": "req-1",
    }


def test_enterprise_endpoints() -> None:
    conn = GitHubConnector.open({**BASE, "hostName": "ghe.acme.internal"}, connector_id="g")
    assert conn.endpoints.api_base == "https://ghe.acme.internal/api/v3"
    assert conn.endpoints.token_url == "https://ghe.acme.internal/login/oauth/access_token"
    assert _authorize(conn)[0] == "https://ghe.acme.internal/login/oauth/authorize"


@pytest.mark.parametrize(
    "extra", [{"orgs": [{"name": "acme"}]}, {"org": "acme"}, {"loadAllGroups": True}]
)
def test_org_reading_configs_ask_for_read_org(extra: dict) -> None:
    conn = GitHubConnector.open({**BASE, **extra}, connector_id="github")
    assert _authorize(conn)[1]["scope"] == "user:email read:org"


def test_configured_redirect_uri_wins_over_the_servers_callback() -> None:
    conn = GitHubConnector.open(
        {**BASE, "redirectURI": "https://public.example/dex/callback"}, connector_id="github"
    )
    assert _authorize(conn)[1]["redirect_uri"] == "https://public.example/dex/callback"
