"""Upstream claims to an ``Identity`` for the ``oidc`` connector, the way Dex reads them.

- user id from ``userIDKey`` (default ``sub``), username from ``userNameKey`` (default ``name``);
- ``preferred_username``, ``email`` and ``groups`` from their standard claims, or from the
  claims named in ``claimMapping`` when the standard one is missing (always, with
  ``overrideClaimMapping``);
- ``email`` and ``email_verified`` are required when the connector asks for scope ``email``
  (``insecureSkipEmailVerified`` treats a missing ``email_verified`` as true);
- groups only with ``insecureEnableGroups``; ``allowedGroups`` refuses users in none of them and
  keeps only the allowed ones; ``claimModifications.newGroupFromClaims`` adds built groups;
- ``hostedDomains`` (Google) requires the ``hd`` claim to be one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import ConnectorError, Identity
from connectors.oidc_config import NewGroupFromClaims, OIDCConfig

__all__ = ["groups_from_claims", "identity_from_claims", "new_group"]


def _string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None


def _mapped(
    claims: Mapping[str, Any], standard: str, mapped: str, override: bool
) -> tuple[str | None, str]:
    """Value of claim ``standard``, or of ``mapped`` when missing (or when ``override``);
    returns the value and the claim name it was looked up under."""
    value = _string(claims, standard)
    if (value is None or override) and mapped:
        return _string(claims, mapped), mapped
    return value, standard


def _group_names(value: Any, claim: str) -> list[str]:
    """A groups claim: a list of names (or of ``{"name": ...}`` objects), or one name."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ConnectorError(f"The identity provider sent a malformed {claim!r} claim.")
    names: list[str] = []
    for item in value:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            names.append(item["name"])
        else:
            raise ConnectorError(f"The identity provider sent a malformed {claim!r} claim.")
    return names


def new_group(rule: NewGroupFromClaims, claims: Mapping[str, Any]) -> str | None:
    """The group ``rule`` builds from ``claims``: the prefix (when set) and each listed claim's
    string value, joined by the delimiter; ``None`` when no listed claim has a string value.
    With ``clearDelimiter`` the delimiter is removed from the claim values first, so the
    operator alone decides the group's structure."""
    values: list[str] = []
    for name in rule.claims:
        value = _string(claims, name)
        if value is None:
            continue  # missing or non-string claims are skipped
        if rule.clear_delimiter and rule.delimiter:
            value = value.replace(rule.delimiter, "")
        values.append(value)
    if not values:
        return None
    segments = [rule.prefix, *values] if rule.prefix else values
    return rule.delimiter.join(segments)


def groups_from_claims(cfg: OIDCConfig, claims: Mapping[str, Any]) -> list[str]:
    """The user's groups: the groups claim (with ``insecureEnableGroups``), filtered by
    ``allowedGroups``, then the groups ``newGroupFromClaims`` builds."""
    groups: list[str] = []
    if cfg.insecure_enable_groups:
        claim = "groups"
        mapped = cfg.claim_mapping.groups
        if ("groups" not in claims or cfg.override_claim_mapping) and mapped:
            claim = mapped
        if claim in claims and claims[claim] is not None:
            groups = _group_names(claims[claim], claim)
        if cfg.allowed_groups:
            allowed = set(cfg.allowed_groups)
            groups = [g for g in groups if g in allowed]
            if not groups:
                raise ConnectorError("You are not a member of a group allowed to log in here.")
    for rule in cfg.claim_modifications.new_group_from_claims:
        built = new_group(rule, claims)
        if built is not None:
            groups.append(built)
    return list(dict.fromkeys(groups))


def identity_from_claims(
    cfg: OIDCConfig, claims: Mapping[str, Any], *, connector_data: bytes | None
) -> Identity:
    """The ``Identity`` for verified upstream ``claims``; ``ConnectorError`` if a required
    claim is missing or the user is not allowed."""

    def missing(name: str) -> ConnectorError:
        return ConnectorError(f"The identity provider did not send the {name!r} claim.")

    user_id = _string(claims, cfg.user_id_key)
    if not user_id:
        raise missing(cfg.user_id_key)
    username = _string(claims, cfg.user_name_key)
    if username is None:
        raise missing(cfg.user_name_key)
    override = cfg.override_claim_mapping
    preferred, _ = _mapped(
        claims, "preferred_username", cfg.claim_mapping.preferred_username, override
    )
    wants_email = "email" in cfg.request_scopes
    email, email_claim = _mapped(claims, "email", cfg.claim_mapping.email, override)
    if email is None and wants_email:
        raise missing(email_claim)
    verified = claims.get("email_verified")
    if not isinstance(verified, bool):
        if cfg.insecure_skip_email_verified:
            verified = True
        elif wants_email:
            raise missing("email_verified")
        else:
            verified = False
    if cfg.hosted_domains and _string(claims, "hd") not in cfg.hosted_domains:
        raise ConnectorError("Your account's domain is not allowed to log in here.")
    return Identity(
        user_id=user_id,
        username=username,
        preferred_username=preferred or "",
        email=email or "",
        email_verified=verified,
        groups=tuple(groups_from_claims(cfg, claims)),
        connector_data=connector_data,
    )
