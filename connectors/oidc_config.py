"""Typed config of the upstream OpenID Connect connector (``type: oidc``), in Dex's key names.

Parsed by ``connectors.base.parse_config``; ``OIDCConfig.validate`` adds the cross-field rules
(e.g. ``allowedGroups`` needs ``insecureEnableGroups``). See docs/connectors/oidc.md.
"""

# ruff: noqa: RUF009 - key() wraps dataclasses.field(); its defaults are immutable or factories

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from connectors.base import key

__all__ = [
    "ClaimMapping",
    "ClaimModifications",
    "NewGroupFromClaims",
    "OIDCConfig",
    "ProviderDiscoveryOverrides",
]

PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})


@dataclass(frozen=True)
class ClaimMapping:
    """Claim names to read when the standard claim is missing (or always, with
    ``overrideClaimMapping``)."""

    preferred_username: str = key("preferred_username", default="")
    email: str = key("email", default="")
    groups: str = key("groups", default="")


@dataclass(frozen=True)
class NewGroupFromClaims:
    """One extra group built from claim values: ``prefix``, then the string values of
    ``claims`` in order (missing or non-string claims are skipped), joined by ``delimiter``."""

    claims: list[str] = key("claims", default_factory=list)
    delimiter: str = key("delimiter", default="")
    clear_delimiter: bool = key("clearDelimiter", default=False)  # strip delimiter from values
    prefix: str = key("prefix", default="")


@dataclass(frozen=True)
class ClaimModifications:
    new_group_from_claims: list[NewGroupFromClaims] = key(
        "newGroupFromClaims", default_factory=list
    )


@dataclass(frozen=True)
class ProviderDiscoveryOverrides:
    """Endpoints used instead of the ones the discovery document names."""

    token_url: str = key("tokenURL", default="")
    auth_url: str = key("authURL", default="")
    jwks_url: str = key("jwksURL", default="")
    userinfo_url: str = key("userInfoURL", default="")


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass(frozen=True)
class OIDCConfig:
    """Log in through an upstream OpenID Provider (authorization code flow).

    Example::

        connectors:
        - type: oidc
          id: upstream
          name: Corporate SSO
          config:
            issuer: https://sso.example.com
            clientID: dex
            clientSecret: $OIDC_CLIENT_SECRET
            redirectURI: https://dex.example.com/dex/callback
            scopes: [openid, profile, email, groups]
            insecureEnableGroups: true
            getUserInfo: false
            pkceChallenge: true
            claimMapping:
              preferred_username: nickname
            claimModifications:
              newGroupFromClaims:
              - claims: [org, team]
                delimiter: ":"
                prefix: sso
    """

    issuer: str = key("issuer")  # must equal the discovery document's issuer exactly
    client_id: str = key("clientID")
    client_secret: str = key("clientSecret", default="")  # empty: public client (use PKCE)
    redirect_uri: str = key("redirectURI", default="")  # default: the server's /callback URL
    basic_auth_unsupported: bool | None = key("basicAuthUnsupported", default=None)
    scopes: list[str] = key("scopes", default_factory=list)  # default: profile email
    root_cas: list[str] = key("rootCAs", default_factory=list)  # PEM files (or inline PEM)
    insecure_skip_verify: bool = key("insecureSkipVerify", default=False)
    insecure_skip_email_verified: bool = key("insecureSkipEmailVerified", default=False)
    insecure_enable_groups: bool = key("insecureEnableGroups", default=False)
    allowed_groups: list[str] = key("allowedGroups", default_factory=list)
    get_user_info: bool = key("getUserInfo", default=False)
    user_id_key: str = key("userIDKey", default="sub")
    user_name_key: str = key("userNameKey", default="name")
    prompt_type: str | None = key("promptType", default=None)  # None: "consent"
    pkce_challenge: bool = key("pkceChallenge", default=False)
    override_claim_mapping: bool = key("overrideClaimMapping", default=False)
    claim_mapping: ClaimMapping = key("claimMapping", default_factory=ClaimMapping)
    claim_modifications: ClaimModifications = key(
        "claimModifications", default_factory=ClaimModifications
    )
    provider_discovery_overrides: ProviderDiscoveryOverrides = key(
        "providerDiscoveryOverrides", default_factory=ProviderDiscoveryOverrides
    )
    hosted_domains: list[str] = key("hostedDomains", default_factory=list)  # Google's ``hd``
    acr_values: list[str] = key("acrValues", default_factory=list)

    @property
    def prompt(self) -> str:
        """The ``prompt`` parameter sent with offline-access logins ("" sends none)."""
        return "consent" if self.prompt_type is None else self.prompt_type

    @property
    def request_scopes(self) -> list[str]:
        """``openid`` followed by the configured scopes (default ``profile email``)."""
        configured = self.scopes or ["profile", "email"]
        return list(dict.fromkeys(["openid", *configured]))

    def validate(self) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if not _is_http_url(self.issuer):
            errors.append(("issuer", "must be an http(s) URL"))
        if not self.client_id:
            errors.append(("clientID", "must not be empty"))
        if self.redirect_uri and not _is_http_url(self.redirect_uri):
            errors.append(("redirectURI", "must be an http(s) URL"))
        if self.prompt not in PROMPT_VALUES | {""}:
            errors.append(("promptType", f"must be one of {sorted(PROMPT_VALUES)} or empty"))
        if self.allowed_groups and not self.insecure_enable_groups:
            errors.append(("allowedGroups", "requires insecureEnableGroups: true"))
        if not self.user_id_key:
            errors.append(("userIDKey", "must not be empty"))
        if not self.user_name_key:
            errors.append(("userNameKey", "must not be empty"))
        if self.insecure_skip_verify and self.root_cas:
            errors.append(("rootCAs", "cannot be combined with insecureSkipVerify"))
        overrides = self.provider_discovery_overrides
        for name, value in (
            ("tokenURL", overrides.token_url),
            ("authURL", overrides.auth_url),
            ("jwksURL", overrides.jwks_url),
            ("userInfoURL", overrides.userinfo_url),
        ):
            if value and not _is_http_url(value):
                errors.append((f"providerDiscoveryOverrides.{name}", "must be an http(s) URL"))
        for i, rule in enumerate(self.claim_modifications.new_group_from_claims):
            path = f"claimModifications.newGroupFromClaims[{i}]"
            if not rule.claims:
                errors.append((f"{path}.claims", "must list at least one claim"))
            if rule.clear_delimiter and not rule.delimiter:
                errors.append((f"{path}.clearDelimiter", "needs a delimiter"))
        return errors
