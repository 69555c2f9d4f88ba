"""Config parsing of the generic ``oauth`` connector: every key, defaults, errors with paths."""

from __future__ import annotations

from pathlib import Path

import pytest

import connectors
from connectors.base import ConnectorConfigError, parse_config
from connectors.oauth import OAuth2Connector

BASE = {
    "clientID": "cid",
    "clientSecret": "secret",
    "authorizationURL": "https://auth.example/authorize",
    "tokenURL": "https://auth.example/token",
    "userInfoURL": "https://auth.example/userinfo",
}


def errors_of(config: object) -> dict[str, str]:
    with pytest.raises(ConnectorConfigError) as exc:
        OAuth2Connector.open(config, connector_id="oauth")  # type: ignore[arg-type]
    return dict(exc.value.errors)


def test_minimal_config_uses_dex_defaults():
    cfg = parse_config(OAuth2Connector.Config, BASE)
    assert cfg.redirect_uri == "" and cfg.scopes == () and cfg.root_cas == ()
    assert cfg.insecure_skip_verify is False
    assert cfg.claim_keys() == {
        "userIDKey": "id",
        "userNameKey": "user_name",
        "preferredUsernameKey": "preferred_username",
        "groupsKey": "groups",
        "emailKey": "email",
        "emailVerifiedKey": "email_verified",
    }


def test_every_key_is_read():
    cfg = parse_config(
        OAuth2Connector.Config,
        {
            **BASE,
            "redirectURI": "https://dex.example/dex/callback",
            "scopes": ["profile", "email"],
            "rootCAs": ["/etc/ssl/ca.pem"],
            "insecureSkipVerify": True,
            "userIDKey": "sub",
            "claimMapping": {
                "userNameKey": "name",
                "preferredUsernameKey": "login",
                "groupsKey": "roles",
                "emailKey": "mail",
                "emailVerifiedKey": "mail_ok",
            },
        },
    )
    assert cfg.client_id == "cid" and cfg.client_secret == "secret"
    assert cfg.redirect_uri == "https://dex.example/dex/callback"
    assert cfg.scopes == ("profile", "email")
    assert cfg.root_cas == ("/etc/ssl/ca.pem",)
    assert cfg.insecure_skip_verify is True
    assert cfg.claim_keys() == {
        "userIDKey": "sub",
        "userNameKey": "name",
        "preferredUsernameKey": "login",
        "groupsKey": "roles",
        "emailKey": "mail",
        "emailVerifiedKey": "mail_ok",
    }


def test_flat_keys_and_nested_user_id_key_are_accepted():
    cfg = parse_config(
        OAuth2Connector.Config,
        {
            **BASE,
            "userNameKey": "name",
            "groupsKey": "teams",
            "emailVerifiedKey": "verified",
            "claimMapping": {"userIDKey": "uid", "emailKey": "mail"},
        },
    )
    keys = cfg.claim_keys()
    assert keys["userIDKey"] == "uid"
    assert keys["userNameKey"] == "name"
    assert keys["groupsKey"] == "teams"
    assert keys["emailKey"] == "mail"
    assert keys["emailVerifiedKey"] == "verified"
    assert keys["preferredUsernameKey"] == "preferred_username"


def test_the_same_key_twice_must_agree():
    same = {**BASE, "groupsKey": "g", "claimMapping": {"groupsKey": "g"}}
    assert parse_config(OAuth2Connector.Config, same).claim_keys()["groupsKey"] == "g"
    errors = errors_of({**BASE, "groupsKey": "g", "claimMapping": {"groupsKey": "h"}})
    assert errors == {"config.claimMapping.groupsKey": "conflicts with top-level groupsKey"}


def test_required_keys_are_reported_together():
    errors = errors_of({})
    assert set(errors) == {
        "config.clientID",
        "config.authorizationURL",
        "config.tokenURL",
        "config.userInfoURL",
    }
    assert all(m == "required" for m in errors.values())


def test_wrong_types_and_unknown_keys_name_their_paths():
    errors = errors_of(
        {
            **BASE,
            "scopes": "openid",
            "insecureSkipVerify": "yes",
            "claimMapping": {"groupsKey": ["x"], "bogus": 1},
            "userIdKey": "typo",
        }
    )
    assert errors == {
        "config.scopes": "must be a list",
        "config.insecureSkipVerify": "must be true or false",
        "config.claimMapping.groupsKey": "must be a string",
        "config.claimMapping.bogus": "unknown key",
        "config.userIdKey": "unknown key",
    }


def test_urls_must_be_absolute_http():
    errors = errors_of(
        {
            **BASE,
            "tokenURL": "/token",
            "userInfoURL": "ftp://x/userinfo",
            "redirectURI": "dex/callback",
            "clientID": "",
        }
    )
    assert errors == {
        "config.tokenURL": "must be an absolute http:// or https:// URL",
        "config.userInfoURL": "must be an absolute http:// or https:// URL",
        "config.redirectURI": "must be an absolute http:// or https:// URL",
        "config.clientID": "must not be empty",
    }


def test_unreadable_root_ca_is_a_config_error(tmp_path: Path):
    not_pem = tmp_path / "junk.pem"
    not_pem.write_text("not a certificate")
    errors = errors_of({**BASE, "rootCAs": [str(tmp_path / "missing.pem"), str(not_pem)]})
    assert set(errors) == {"config.rootCAs[0]", "config.rootCAs[1]"}
    assert "missing.pem" in errors["config.rootCAs[0]"]


def test_registered_as_dex_type_oauth():
    assert connectors.resolve("oauth") is OAuth2Connector
    conn = connectors.open_connector("oauth", BASE, connector_id="my-oauth")
    assert isinstance(conn, OAuth2Connector) and conn.connector_id == "my-oauth"
    assert connectors.validate_connector_config("oauth", {**BASE, "tokenURL": 3}) == [
        ("config.tokenURL", "must be an absolute http:// or https:// URL")
    ]
