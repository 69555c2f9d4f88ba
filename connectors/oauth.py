"""The generic OAuth 2.0 connector (Dex type ``oauth``).

The login is the authorization code grant (RFC 6749 §4.1) with PKCE, run by authlib's client
through ``connectors.oauth2_upstream`` (token endpoint authentication, retries and errors are
described there). The user is read from ``userInfoURL`` with the access token as a Bearer token
(RFC 6750 §2.1); which JSON member holds what is configurable (``userIDKey``, ``claimMapping``).

Groups (only when the client asked for the ``groups`` scope) come from the ``groupsKey`` member of
the user info and, like Dex, of the access token's payload when the access token is a JWT. A
groups value is a list whose items are strings or objects with a string ``name``; anything else
is ignored.

With ``offline_access`` the upstream tokens are kept as ``connector_data``. ``refresh`` uses the
upstream refresh token (RFC 6749 §6) and re-reads the user; when the upstream issued no refresh
token the identity from the login is kept unchanged, as Dex does for this connector.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any

from connectors.base import (
    CallbackConnector,
    CallbackRequest,
    ConnectorError,
    Identity,
    RefreshConnector,
    Scopes,
    get_logger,
    key,
)
from connectors.oauth2_upstream import (
    OAuth2Upstream,
    OAuth2UpstreamConnector,
    Tokens,
    check_http_url,
)
from connectors.upstream_tls import tls_verify_setting

__all__ = ["OAuth2ClaimMapping", "OAuth2Connector"]


_DEFAULT_KEYS = {
    "userIDKey": "id",
    "userNameKey": "user_name",
    "preferredUsernameKey": "preferred_username",
    "groupsKey": "groups",
    "emailKey": "email",
    "emailVerifiedKey": "email_verified",
}
_FIELD_OF = {  # YAML key -> dataclass field
    "userIDKey": "user_id_key",
    "userNameKey": "user_name_key",
    "preferredUsernameKey": "preferred_username_key",
    "groupsKey": "groups_key",
    "emailKey": "email_key",
    "emailVerifiedKey": "email_verified_key",
}


@dataclass(frozen=True)
class OAuth2ClaimMapping:
    """``claimMapping``: which user-info member holds what (Dex's nested form). Empty = default."""

    user_id_key: str = key("userIDKey", default="")
    user_name_key: str = key("userNameKey", default="")
    preferred_username_key: str = key("preferredUsernameKey", default="")
    groups_key: str = key("groupsKey", default="")
    email_key: str = key("emailKey", default="")
    email_verified_key: str = key("emailVerifiedKey", default="")


class OAuth2Connector(OAuth2UpstreamConnector, CallbackConnector, RefreshConnector):
    """Log in with any OAuth 2.0 server that has a user-info endpoint returning JSON."""

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``oauth`` connector. Each ``*Key`` may be given at the top level or
        under ``claimMapping`` (Dex puts ``userIDKey`` at the top and the others there).

        Example::

            connectors:
            - type: oauth
              id: myauth
              name: My Auth Server
              config:
                clientID: $MYAUTH_CLIENT_ID
                clientSecret: $MYAUTH_CLIENT_SECRET
                redirectURI: https://dex.example.com/dex/callback
                authorizationURL: https://auth.example.com/oauth2/authorize
                tokenURL: https://auth.example.com/oauth2/token
                userInfoURL: https://auth.example.com/userinfo
                scopes: [profile, email, groups]
                userIDKey: user_id
                claimMapping:
                  userNameKey: name
                  preferredUsernameKey: login
                  groupsKey: groups
                  emailKey: email
                  emailVerifiedKey: email_verified
        """

        client_id: str = key("clientID")
        authorization_url: str = key("authorizationURL")
        token_url: str = key("tokenURL")
        user_info_url: str = key("userInfoURL")
        client_secret: str = key("clientSecret", default="")
        redirect_uri: str = key("redirectURI", default="")  # default: the server's /callback
        scopes: tuple[str, ...] = key("scopes", default=())
        root_cas: tuple[str, ...] = key("rootCAs", default=())  # extra PEM files to trust
        insecure_skip_verify: bool = key("insecureSkipVerify", default=False)
        user_id_key: str = key("userIDKey", default="")
        user_name_key: str = key("userNameKey", default="")
        preferred_username_key: str = key("preferredUsernameKey", default="")
        groups_key: str = key("groupsKey", default="")
        email_key: str = key("emailKey", default="")
        email_verified_key: str = key("emailVerifiedKey", default="")
        claim_mapping: OAuth2ClaimMapping = key(  # noqa: RUF009 - a frozen dataclass
            "claimMapping", default_factory=OAuth2ClaimMapping
        )

        def claim_keys(self) -> dict[str, str]:
            """Every ``*Key`` resolved: ``claimMapping``, else top level, else the default."""
            resolved = {}
            for name, default in _DEFAULT_KEYS.items():
                nested = getattr(self.claim_mapping, _FIELD_OF[name])
                top = getattr(self, _FIELD_OF[name])
                resolved[name] = nested or top or default
            return resolved

        def validate(self) -> list[tuple[str, str]]:
            errors: list[tuple[str, str]] = []
            if not self.client_id:
                errors.append(("clientID", "must not be empty"))
            for name, value in (
                ("authorizationURL", self.authorization_url),
                ("tokenURL", self.token_url),
                ("userInfoURL", self.user_info_url),
            ):
                check_http_url(value, name, errors)
            if self.redirect_uri:
                check_http_url(self.redirect_uri, "redirectURI", errors)
            for name in _DEFAULT_KEYS:
                nested = getattr(self.claim_mapping, _FIELD_OF[name])
                top = getattr(self, _FIELD_OF[name])
                if nested and top and nested != top:
                    errors.append((f"claimMapping.{name}", f"conflicts with top-level {name}"))
            return errors

    def __init__(
        self,
        config: OAuth2Connector.Config,
        *,
        connector_id: str = "oauth",
        logger: logging.Logger | None = None,
    ) -> None:
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)
        self._config = config
        self._keys = config.claim_keys()
        if config.insecure_skip_verify:
            self._log.warning("connector %s: insecureSkipVerify is set", connector_id)
        verify, self._ca_bundle = tls_verify_setting(config.root_cas, config.insecure_skip_verify)
        self._client = OAuth2Upstream(
            label="oauth",
            client_id=config.client_id,
            client_secret=config.client_secret,
            authorization_url=config.authorization_url,
            token_url=config.token_url,
            verify=verify,
            logger=self._log,
        )

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        redirect_uri = self._config.redirect_uri or callback_url
        return self._client.start(self._config.scopes, redirect_uri, state)

    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        tokens = self._client.exchange(request, login_state)
        return self._identity(scopes, tokens)

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        if not identity.connector_data:
            return identity
        tokens = Tokens.from_connector_data(identity.connector_data, "oauth")
        if not tokens.refresh_token:
            return identity  # nothing to refresh with: keep what the login saw (as Dex does)
        return self._identity(scopes, self._client.refresh(tokens.refresh_token))

    def _identity(self, scopes: Scopes, tokens: Tokens) -> Identity:
        info = self._client.get_json(self._config.user_info_url, tokens.access_token, "user info")
        k = self._keys
        user_id = info.get(k["userIDKey"])
        if isinstance(user_id, float) and user_id.is_integer():
            user_id = int(user_id)
        if isinstance(user_id, bool) or not isinstance(user_id, str | int | float):
            raise ConnectorError(f"oauth: the user info has no usable {k['userIDKey']!r} member")
        if user_id == "":
            raise ConnectorError(f"oauth: the user info has an empty {k['userIDKey']!r} member")
        groups: tuple[str, ...] = ()
        if scopes.groups:
            found = _group_names(info.get(k["groupsKey"]))
            found += _group_names(_jwt_payload(tokens.access_token).get(k["groupsKey"]))
            groups = tuple(dict.fromkeys(found))
        keep = scopes.offline_access and (tokens.refresh_token or tokens.access_token)
        return Identity(
            user_id=str(user_id),
            username=_string(info.get(k["userNameKey"])),
            preferred_username=_string(info.get(k["preferredUsernameKey"])),
            email=_string(info.get(k["emailKey"])),
            email_verified=info.get(k["emailVerifiedKey"]) is True,
            groups=groups,
            connector_data=tokens.to_connector_data() if keep else None,
        )


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _group_names(value: Any) -> list[str]:
    """Names from a list of strings or of objects with a string ``name``; others ignored."""
    if not isinstance(value, list):
        return []
    names = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("name")
        if isinstance(item, str) and item:
            names.append(item)
    return names


def _jwt_payload(token: str) -> dict[str, Any]:
    """The payload of a JWT-shaped access token, unverified: it came straight from the token
    endpoint over the back channel, as trusted as the user info. ``{}`` if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}
