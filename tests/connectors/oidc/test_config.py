"""Config parsing of the ``oidc`` connector: every Dex key, defaults, and errors with key paths."""

from __future__ import annotations

from pathlib import Path

import pytest

import connectors
from connectors.base import ConnectorConfigError, ConnectorError, Scopes, parse_config
from connectors.oidc import OIDCConnector
from connectors.oidc_config import OIDCConfig
from tests.services import free_port

FULL = {
    "issuer": "https://sso.example.com",
    "clientID": "dex",
    "clientSecret": "s3cret",
    "redirectURI": "https://dex.example.com/dex/callback",
    "basicAuthUnsupported": True,
    "scopes": ["openid", "profile", "email", "groups"],
    "rootCAs": [],
    "insecureSkipVerify": False,
    "insecureSkipEmailVerified": True,
    "insecureEnableGroups": True,
    "allowedGroups": ["admins"],
    "getUserInfo": True,
    "userIDKey": "oid",
    "userNameKey": "nickname",
    "promptType": "login",
    "pkceChallenge": True,
    "overrideClaimMapping": True,
    "claimMapping": {"preferred_username": "upn", "email": "mail", "groups": "roles"},
    "claimModifications": {
        "newGroupFromClaims": [
            {"claims": ["org", "team"], "delimiter": ":", "clearDelimiter": True, "prefix": "sso"}
        ]
    },
    "providerDiscoveryOverrides": {
        "tokenURL": "https://sso.example.com/t",
        "authURL": "https://sso.example.com/a",
        "jwksURL": "https://sso.example.com/k",
        "userInfoURL": "https://sso.example.com/u",
    },
    "hostedDomains": ["example.com"],
    "acrValues": ["mfa"],
}


def test_every_key_is_parsed() -> None:
    cfg = parse_config(OIDCConfig, FULL)
    assert cfg.issuer == "https://sso.example.com"
    assert (cfg.client_id, cfg.client_secret) == ("dex", "s3cret")
    assert cfg.redirect_uri == "https://dex.example.com/dex/callback"
    assert cfg.basic_auth_unsupported is True
    assert cfg.request_scopes == ["openid", "profile", "email", "groups"]
    assert cfg.insecure_skip_email_verified and cfg.insecure_enable_groups and cfg.get_user_info
    assert cfg.allowed_groups == ["admins"]
    assert (cfg.user_id_key, cfg.user_name_key) == ("oid", "nickname")
    assert cfg.prompt == "login"
    assert cfg.pkce_challenge and cfg.override_claim_mapping
    assert cfg.claim_mapping.preferred_username == "upn"
    assert cfg.claim_mapping.email == "mail"
    assert cfg.claim_mapping.groups == "roles"
    rule = cfg.claim_modifications.new_group_from_claims[0]
    assert (rule.claims, rule.delimiter, rule.clear_delimiter, rule.prefix) == (
        ["org", "team"],
        ":",
        True,
        "sso",
    )
    o = cfg.provider_discovery_overrides
    assert (o.token_url, o.auth_url, o.jwks_url, o.userinfo_url) == (
        "https://sso.example.com/t",
        "https://sso.example.com/a",
        "https://sso.example.com/k",
        "https://sso.example.com/u",
    )
    assert cfg.hosted_domains == ["example.com"]
    assert cfg.acr_values == ["mfa"]


def test_defaults_follow_dex() -> None:
    cfg = parse_config(OIDCConfig, {"issuer": "https://sso.example.com", "clientID": "dex"})
    assert cfg.request_scopes == ["openid", "profile", "email"]
    assert cfg.prompt == "consent"
    assert (cfg.user_id_key, cfg.user_name_key) == ("sub", "name")
    assert not cfg.insecure_enable_groups and not cfg.pkce_challenge
    assert cfg.basic_auth_unsupported is None


def test_empty_prompt_type_means_no_prompt() -> None:
    cfg = parse_config(OIDCConfig, {"issuer": "https://i", "clientID": "c", "promptType": ""})
    assert cfg.prompt == ""


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"issuer": None}, "config.issuer", "required"),
        ({"clientID": None}, "config.clientID", "required"),
        ({"issuer": "sso.example.com"}, "config.issuer", "http(s) URL"),
        ({"scopes": "openid email"}, "config.scopes", "must be a list"),
        ({"getUserInfo": "yes"}, "config.getUserInfo", "true or false"),
        ({"bogus": 1}, "config.bogus", "unknown key"),
        ({"claimMapping": {"mail": "x"}}, "config.claimMapping.mail", "unknown key"),
        ({"promptType": "always"}, "config.promptType", "must be one of"),
        ({"insecureEnableGroups": False}, "config.allowedGroups", "insecureEnableGroups"),
        ({"userIDKey": ""}, "config.userIDKey", "must not be empty"),
        (
            {"providerDiscoveryOverrides": {"tokenURL": "/token"}},
            "config.providerDiscoveryOverrides.tokenURL",
            "http(s) URL",
        ),
        (
            {"claimModifications": {"newGroupFromClaims": [{"claims": "org"}]}},
            "config.claimModifications.newGroupFromClaims[0].claims",
            "must be a list",
        ),
        (
            {"claimModifications": {"newGroupFromClaims": [{"claims": []}]}},
            "config.claimModifications.newGroupFromClaims[0].claims",
            "at least one",
        ),
        ({"insecureSkipVerify": True, "rootCAs": ["/x.pem"]}, "config.rootCAs", "insecureSkip"),
    ],
)
def test_errors_name_the_key(change: dict, path: str, fragment: str) -> None:
    raw = {**FULL, **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConnectorConfigError) as err:
        parse_config(OIDCConfig, raw)
    assert any(p == path and fragment in m for p, m in err.value.errors), err.value.errors


def test_registered_as_oidc() -> None:
    assert connectors.resolve("oidc") is OIDCConnector
    assert connectors.validate_connector_config("oidc", FULL) == []
    errors = connectors.validate_connector_config("oidc", {"issuer": "https://i"})
    assert ("config.clientID", "required") in errors


def test_unreadable_root_ca_is_a_config_error(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("hello")
    config = {
        "issuer": "https://i",
        "clientID": "c",
        "rootCAs": [str(tmp_path / "nope"), str(not_pem)],
    }
    with pytest.raises(ConnectorConfigError) as err:
        OIDCConnector.open(config, connector_id="sso")
    paths = [p for p, _ in err.value.errors]
    assert paths == ["config.rootCAs[0]", "config.rootCAs[1]"]


def test_open_is_lazy_and_failures_are_connector_errors() -> None:
    """Opening contacts nobody; a dead upstream surfaces as ConnectorError on use."""
    dead = f"http://127.0.0.1:{free_port()}"
    conn = OIDCConnector.open({"issuer": dead, "clientID": "c"}, connector_id="sso")
    try:
        with pytest.raises(ConnectorError, match="could not be reached"):
            conn.check()
        with pytest.raises(ConnectorError, match="could not be reached"):
            conn.login_url(Scopes(), "http://127.0.0.1:1/dex/callback", "req")
    finally:
        conn.close()
