"""The GitLab connector (Dex type ``gitlab``): log in with gitlab.com or a self-managed GitLab.

GitLab is an OAuth 2.0 provider (its "OAuth 2.0 identity provider API" documentation):
``<baseURL>/oauth/authorize`` and ``<baseURL>/oauth/token`` (authorization code grant with PKCE,
refresh grant), and the user is read from ``GET <baseURL>/api/v4/user`` (scope ``read_user``:
``id``, ``username``, ``name``, ``email``). Groups come from GitLab's OpenID Connect user info,
``GET <baseURL>/oauth/userinfo`` (scope ``openid``), whose ``groups`` claim lists the full paths
of the user's groups; like Dex, ``openid`` is only asked for when groups are needed.

With ``getGroupsPermission`` each group the user owns, maintains or develops in also appears
with a suffix: ``group:owner``, ``group:maintainer``, ``group:developer``, from GitLab's claims
``https://gitlab.org/claims/groups/owner`` (``.../maintainer``, ``.../developer``). A role in a
group extends to its subgroups (``acme`` owner makes ``acme/infra:owner``); the highest role wins.

``groups`` restricts login to members of the listed groups, and the identity then carries only
those of its groups that are listed (Dex's behaviour). The identity's ``user_id`` is GitLab's
numeric user id, or the username with ``useLoginAsID``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
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

__all__ = ["GitLabConnector"]

SCOPE_USER = "read_user"  # read /api/v4/user
SCOPE_OPENID = "openid"  # read groups from /oauth/userinfo
PERMISSION_CLAIM = "https://gitlab.org/claims/groups/"
ROLES = ("owner", "maintainer", "developer")  # highest first


def with_permissions(groups: list[str], claims: Mapping[str, Any]) -> list[str]:
    """``groups`` followed by ``group:<role>`` for each group in which the user has a role
    (directly or through a parent group), the highest role only."""
    by_role = {role: _strings(claims.get(PERMISSION_CLAIM + role)) for role in ROLES}
    suffixed = []
    for group in groups:
        for role in ROLES:
            if any(group == g or group.startswith(g + "/") for g in by_role[role]):
                suffixed.append(f"{group}:{role}")
                break
    return groups + suffixed


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class GitLabConnector(OAuth2UpstreamConnector, CallbackConnector, RefreshConnector):
    """Log in with GitLab; groups from GitLab's OpenID Connect user info."""

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``gitlab`` connector.

        Example::

            connectors:
            - type: gitlab
              id: gitlab
              name: GitLab
              config:
                baseURL: https://gitlab.com
                clientID: $GITLAB_APPLICATION_ID
                clientSecret: $GITLAB_CLIENT_SECRET
                redirectURI: https://dex.example.com/dex/callback
                groups: [my-group]
                useLoginAsID: false
                getGroupsPermission: false
        """

        client_id: str = key("clientID")  # GitLab application ID
        client_secret: str = key("clientSecret")
        base_url: str = key("baseURL", default="https://gitlab.com")
        redirect_uri: str = key("redirectURI", default="")  # default: the server's /callback
        groups: tuple[str, ...] = key("groups", default=())  # if set, user must be in one
        use_login_as_id: bool = key("useLoginAsID", default=False)  # user_id = username
        get_groups_permission: bool = key("getGroupsPermission", default=False)

        def validate(self) -> list[tuple[str, str]]:
            errors: list[tuple[str, str]] = []
            if not self.client_id:
                errors.append(("clientID", "must not be empty"))
            if not self.client_secret:
                errors.append(("clientSecret", "must not be empty"))
            check_http_url(self.base_url, "baseURL", errors)
            if self.redirect_uri:
                check_http_url(self.redirect_uri, "redirectURI", errors)
            return errors

    def __init__(
        self,
        config: GitLabConnector.Config,
        *,
        connector_id: str = "gitlab",
        logger: logging.Logger | None = None,
    ) -> None:
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)
        self._config = config
        self._base = config.base_url.rstrip("/")
        self._client = OAuth2Upstream(
            label="gitlab",
            client_id=config.client_id,
            client_secret=config.client_secret,
            authorization_url=self._base + "/oauth/authorize",
            token_url=self._base + "/oauth/token",
            verify=True,
            logger=self._log,
        )

    def _groups_needed(self, scopes: Scopes) -> bool:
        return scopes.groups or bool(self._config.groups)

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        wanted = [SCOPE_USER, SCOPE_OPENID] if self._groups_needed(scopes) else [SCOPE_USER]
        return self._client.start(wanted, self._config.redirect_uri or callback_url, state)

    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        return self._identity(scopes, self._client.exchange(request, login_state))

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        tokens = Tokens.from_connector_data(identity.connector_data, "gitlab")
        if tokens.refresh_token:
            tokens = self._client.refresh(tokens.refresh_token)
        return self._identity(scopes, tokens, keep_tokens=True)

    def _identity(self, scopes: Scopes, tokens: Tokens, *, keep_tokens: bool = False) -> Identity:
        user = self._client.get_json(self._base + "/api/v4/user", tokens.access_token, "user")
        user_id = user.get("id")
        login = user.get("username")
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise ConnectorError("gitlab: the user response has no numeric id")
        if not isinstance(login, str) or not login:
            raise ConnectorError("gitlab: the user response has no username")
        name, email = _string(user.get("name")), _string(user.get("email"))
        groups: tuple[str, ...] = ()
        if self._groups_needed(scopes):
            groups = tuple(self._user_groups(tokens, login))
        keep = keep_tokens or scopes.offline_access
        return Identity(
            user_id=login if self._config.use_login_as_id else str(user_id),
            username=name or email,
            preferred_username=login,
            email=email,
            email_verified=True,  # as Dex: GitLab's primary address is a confirmed one
            groups=groups,
            connector_data=tokens.to_connector_data() if keep else None,
        )

    def _user_groups(self, tokens: Tokens, login: str) -> list[str]:
        info = self._client.get_json(self._base + "/oauth/userinfo", tokens.access_token, "groups")
        groups = _strings(info.get("groups"))
        if self._config.get_groups_permission:
            groups = with_permissions(groups, info)
        if self._config.groups:
            allowed = set(self._config.groups)
            groups = [g for g in groups if g in allowed]
            if not groups:
                self._log.info("gitlab user %s is in none of the required groups", login)
                raise ConnectorError(f"gitlab: user {login!r} is not in any of the required groups")
        return groups
