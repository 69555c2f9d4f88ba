"""Claims to identity: Dex's key choices, claim mapping, email rules, groups, allowedGroups,
newGroupFromClaims and hostedDomains."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import ConnectorError, parse_config
from connectors.oidc_claims import identity_from_claims, new_group
from connectors.oidc_config import NewGroupFromClaims, OIDCConfig

CLAIMS: dict[str, Any] = {
    "sub": "u-1",
    "name": "Alice",
    "preferred_username": "alice",
    "email": "alice@example.org",
    "email_verified": True,
    "groups": ["admins", "devs"],
    "org": "acme",
    "team": "plat:form",
    "upn": "alice@corp",
    "mail": "a@corp",
    "roles": ["r1"],
}


def cfg(**raw: Any) -> OIDCConfig:
    return parse_config(OIDCConfig, {"issuer": "https://i", "clientID": "c", **raw})


def test_standard_claims() -> None:
    ident = identity_from_claims(cfg(insecureEnableGroups=True), CLAIMS, connector_data=b"x")
    assert (ident.user_id, ident.username, ident.preferred_username) == ("u-1", "Alice", "alice")
    assert (ident.email, ident.email_verified) == ("alice@example.org", True)
    assert ident.groups == ("admins", "devs")
    assert ident.connector_data == b"x"


def test_groups_need_insecure_enable_groups() -> None:
    assert identity_from_claims(cfg(), CLAIMS, connector_data=None).groups == ()


def test_user_id_and_name_keys() -> None:
    ident = identity_from_claims(
        cfg(userIDKey="upn", userNameKey="preferred_username"), CLAIMS, connector_data=None
    )
    assert (ident.user_id, ident.username) == ("alice@corp", "alice")
    with pytest.raises(ConnectorError, match="'oid'"):
        identity_from_claims(cfg(userIDKey="oid"), CLAIMS, connector_data=None)
    with pytest.raises(ConnectorError, match="'name'"):
        identity_from_claims(cfg(), {**CLAIMS, "name": None}, connector_data=None)


def test_claim_mapping_is_a_fallback_unless_overridden() -> None:
    mapping = {"preferred_username": "upn", "email": "mail", "groups": "roles"}
    kw = {"claimMapping": mapping, "insecureEnableGroups": True}
    ident = identity_from_claims(cfg(**kw), CLAIMS, connector_data=None)
    assert (ident.preferred_username, ident.email, ident.groups) == (
        "alice",
        "alice@example.org",
        ("admins", "devs"),
    )
    bare = {k: v for k, v in CLAIMS.items() if k not in ("preferred_username", "email", "groups")}
    ident = identity_from_claims(cfg(**kw), bare, connector_data=None)
    assert (ident.preferred_username, ident.email, ident.groups) == (
        "alice@corp",
        "a@corp",
        ("r1",),
    )
    ident = identity_from_claims(cfg(overrideClaimMapping=True, **kw), CLAIMS, connector_data=None)
    assert (ident.preferred_username, ident.email, ident.groups) == (
        "alice@corp",
        "a@corp",
        ("r1",),
    )


def test_email_rules() -> None:
    no_verified = {k: v for k, v in CLAIMS.items() if k != "email_verified"}
    with pytest.raises(ConnectorError, match="email_verified"):
        identity_from_claims(cfg(), no_verified, connector_data=None)
    assert identity_from_claims(
        cfg(insecureSkipEmailVerified=True), no_verified, connector_data=None
    ).email_verified
    # A false email_verified is passed on, not turned into true.
    unverified = {**CLAIMS, "email_verified": False}
    assert not identity_from_claims(
        cfg(insecureSkipEmailVerified=True), unverified, connector_data=None
    ).email_verified
    no_email = {k: v for k, v in CLAIMS.items() if k not in ("email", "email_verified")}
    with pytest.raises(ConnectorError, match="'email'"):
        identity_from_claims(cfg(), no_email, connector_data=None)
    # Without scope email neither claim is required.
    ident = identity_from_claims(cfg(scopes=["profile"]), no_email, connector_data=None)
    assert (ident.email, ident.email_verified) == ("", False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("solo", ("solo",)),
        ([{"name": "a"}, {"name": "b"}], ("a", "b")),
        (["a", "a", "b"], ("a", "b")),
    ],
)
def test_group_claim_shapes(value: Any, expected: tuple[str, ...]) -> None:
    ident = identity_from_claims(
        cfg(insecureEnableGroups=True), {**CLAIMS, "groups": value}, connector_data=None
    )
    assert ident.groups == expected


def test_malformed_groups_claim() -> None:
    with pytest.raises(ConnectorError, match="malformed 'groups'"):
        identity_from_claims(
            cfg(insecureEnableGroups=True), {**CLAIMS, "groups": [1, 2]}, connector_data=None
        )


def test_allowed_groups_refuse_and_filter() -> None:
    c = cfg(insecureEnableGroups=True, allowedGroups=["devs", "ops"])
    assert identity_from_claims(c, CLAIMS, connector_data=None).groups == ("devs",)
    with pytest.raises(ConnectorError, match="not a member"):
        identity_from_claims(c, {**CLAIMS, "groups": ["sales"]}, connector_data=None)
    with pytest.raises(ConnectorError, match="not a member"):
        identity_from_claims(c, {**CLAIMS, "groups": None}, connector_data=None)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"claims": ["org", "team"], "delimiter": ":", "prefix": "sso"}, "sso:acme:plat:form"),
        (
            {"claims": ["org", "team"], "delimiter": ":", "prefix": "sso", "clearDelimiter": True},
            "sso:acme:platform",
        ),
        ({"claims": ["org", "missing", "team"], "delimiter": "/"}, "acme/plat:form"),
        ({"claims": ["groups", "org"], "delimiter": "-"}, "acme"),  # non-strings are skipped
        ({"claims": ["missing"], "delimiter": "-", "prefix": "p"}, None),
    ],
)
def test_new_group_from_claims(rule: dict[str, Any], expected: str | None) -> None:
    parsed = parse_config(NewGroupFromClaims, rule)
    assert new_group(parsed, CLAIMS) == expected


def test_new_groups_are_added_after_allowed_groups() -> None:
    c = cfg(
        insecureEnableGroups=True,
        allowedGroups=["admins"],
        claimModifications={
            "newGroupFromClaims": [{"claims": ["org"], "prefix": "org", "delimiter": "="}]
        },
    )
    assert identity_from_claims(c, CLAIMS, connector_data=None).groups == ("admins", "org=acme")
    # Without insecureEnableGroups the built groups are still added.
    c = cfg(claimModifications={"newGroupFromClaims": [{"claims": ["org"], "delimiter": ":"}]})
    assert identity_from_claims(c, CLAIMS, connector_data=None).groups == ("acme",)


def test_hosted_domains() -> None:
    c = cfg(hostedDomains=["example.org"])
    assert identity_from_claims(c, {**CLAIMS, "hd": "example.org"}, connector_data=None)
    with pytest.raises(ConnectorError, match="domain"):
        identity_from_claims(c, {**CLAIMS, "hd": "evil.org"}, connector_data=None)
    with pytest.raises(ConnectorError, match="domain"):
        identity_from_claims(c, CLAIMS, connector_data=None)
