"""The auth proxy connector (Dex type ``authproxy``): trust identity headers set by a fronting
web server that authenticated the user itself (Apache ``mod_auth_*``, oauth2-proxy, an SSO
gateway...).

``login_url`` sends the browser to ``<issuer>/callback/<connector id>?state=...``. The fronting
proxy must authenticate every request to exactly that path and set the headers below on it,
overwriting whatever the client sent. Everywhere else the server removes these headers itself
(``dex_py.web.trusted_headers``), so a client that bypasses the proxy cannot name itself anywhere.

Headers (Dex's names and defaults): ``userHeader`` (``X-Remote-User``, required; the username),
``userIDHeader`` (``X-Remote-User-Id``), ``userNameHeader`` (``X-Remote-User-Name``, the
preferred username), ``emailHeader`` (``X-Remote-User-Email``); the last three fall back to the
user header's value. ``groupHeader`` (``X-Remote-Group``) is a comma-separated list; the
``staticGroups`` are added after it for everyone. The e-mail address counts as verified.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from connectors.base import (
    CallbackConnector,
    CallbackRequest,
    ConfiguredConnector,
    ConnectorError,
    Identity,
    Scopes,
    get_logger,
    key,
    with_query_param,
)

__all__ = ["DEFAULT_HEADERS", "AuthProxyConnector", "header_names"]

DEFAULT_HEADERS = {
    "userIDHeader": "X-Remote-User-Id",
    "userHeader": "X-Remote-User",
    "userNameHeader": "X-Remote-User-Name",
    "emailHeader": "X-Remote-User-Email",
    "groupHeader": "X-Remote-Group",
}


def header_names(config: Mapping[str, Any] | None) -> frozenset[str]:
    """The identity headers an ``authproxy`` connector with this raw ``config:`` mapping reads.
    Tolerant of invalid configs (defaults stand in for unusable values), because the server
    must strip these headers even when the connector itself fails to open."""
    config = config if isinstance(config, Mapping) else {}
    names = set()
    for yaml_key, default in DEFAULT_HEADERS.items():
        value = config.get(yaml_key)
        names.add(value if isinstance(value, str) and value.strip() else default)
    return frozenset(names)


class AuthProxyConnector(ConfiguredConnector, CallbackConnector):
    """Logs in whoever the fronting proxy names in its headers."""

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``authproxy`` connector; every key is optional.

        Example::

            connectors:
            - type: authproxy
              id: sso
              name: Corporate SSO
              config:
                userHeader: X-Remote-User
                userIDHeader: X-Remote-User-Id
                userNameHeader: X-Remote-User-Name
                emailHeader: X-Remote-User-Email
                groupHeader: X-Remote-Group
                staticGroups: [employees]
        """

        user_header: str = key("userHeader", default=DEFAULT_HEADERS["userHeader"])
        user_id_header: str = key("userIDHeader", default=DEFAULT_HEADERS["userIDHeader"])
        user_name_header: str = key("userNameHeader", default=DEFAULT_HEADERS["userNameHeader"])
        email_header: str = key("emailHeader", default=DEFAULT_HEADERS["emailHeader"])
        group_header: str = key("groupHeader", default=DEFAULT_HEADERS["groupHeader"])
        static_groups: tuple[str, ...] = key("staticGroups", default=())

        def validate(self) -> list[tuple[str, str]]:
            errors = []
            for yaml_key, value in (
                ("userHeader", self.user_header),
                ("userIDHeader", self.user_id_header),
                ("userNameHeader", self.user_name_header),
                ("emailHeader", self.email_header),
                ("groupHeader", self.group_header),
            ):
                if not value.strip() or any(c in value for c in " \t:\r\n"):
                    errors.append((yaml_key, "must be an HTTP header name"))
            return errors

    def __init__(
        self,
        config: AuthProxyConnector.Config,
        *,
        connector_id: str = "authproxy",
        logger: logging.Logger | None = None,
    ) -> None:
        self.connector_id = connector_id
        self._config = config
        self._log = logger or get_logger(connector_id)

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        """``<callback_url>/<connector id>?state=<state>``: the one path the proxy protects."""
        parts = urlsplit(callback_url)
        path = parts.path.rstrip("/") + "/" + self.connector_id
        return with_query_param(urlunsplit(parts._replace(path=path)), "state", state), None

    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        headers = {k.lower(): v.strip() for k, v in request.headers.items()}
        c = self._config
        user = headers.get(c.user_header.lower(), "")
        if not user:
            self._log.warning("authproxy %s: request without %s", self.connector_id, c.user_header)
            raise ConnectorError(
                f"authproxy: the required header {c.user_header} is missing; "
                "is the login path behind the authenticating proxy?"
            )
        header_groups = [
            g.strip() for g in headers.get(c.group_header.lower(), "").split(",") if g.strip()
        ]
        return Identity(
            user_id=headers.get(c.user_id_header.lower()) or user,
            username=user,
            preferred_username=headers.get(c.user_name_header.lower()) or user,
            email=headers.get(c.email_header.lower()) or user,
            email_verified=True,
            groups=tuple(dict.fromkeys([*header_groups, *c.static_groups])),
        )
