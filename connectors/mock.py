"""Test connectors with Dex's type names ``mockCallback`` and ``mockPassword``.

Both always vouch for Dex's documented test user (Kilgore Trout), so configs and tests written
for Dex's mock connectors work unchanged. ``mockCallback`` also has the token-exchange capability
(RFC 8693) as a test double: it accepts exactly the fixed subject token ``MOCK_SUBJECT_TOKEN``.
Never enable them in production.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from connectors.base import (
    CallbackConnector,
    CallbackRequest,
    ConfiguredConnector,
    ConnectorError,
    Identity,
    PasswordConnector,
    RefreshConnector,
    Scopes,
    TokenIdentityConnector,
    get_logger,
    key,
    parse_config,
    with_query_param,
)

__all__ = ["KILGORE_TROUT", "MOCK_SUBJECT_TOKEN", "MockCallbackConnector", "MockPasswordConnector"]

MOCK_SUBJECT_TOKEN = "mock-subject-token-for-tests"
"""The one subject token ``mockCallback`` accepts in a token exchange (a test double, not a
credential: anyone reading this file knows it)."""

KILGORE_TROUT = Identity(
    user_id="0-385-28089-0",
    username="Kilgore Trout",
    preferred_username="kilgore",
    email="kilgore@kilgore.trout",
    email_verified=True,
    groups=("authors",),
)
"""The identity of Dex's mock callback connector."""


class MockCallbackConnector(CallbackConnector, RefreshConnector, TokenIdentityConnector):
    """Redirects straight back to the callback and logs in as Kilgore Trout; exchanges the fixed
    test token ``MOCK_SUBJECT_TOKEN`` for Kilgore Trout too."""

    @dataclass(frozen=True)
    class Config:
        """``mockCallback`` takes no settings.

        Example::

            connectors:
            - type: mockCallback
              id: mock
              name: Example
        """

    def __init__(self, *, connector_id: str = "mock", logger: logging.Logger | None = None) -> None:
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)

    @classmethod
    def open(
        cls,
        config: Mapping[str, Any] | None,
        *,
        connector_id: str,
        logger: logging.Logger | None = None,
        **services: Any,
    ) -> Self:
        parse_config(cls.Config, config)
        return cls(connector_id=connector_id, logger=logger)

    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        return with_query_param(callback_url, "state", state), None

    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        return KILGORE_TROUT

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        return KILGORE_TROUT

    def token_identity(self, subject_token_type: str, subject_token: str) -> Identity:
        if not hmac.compare_digest(subject_token.encode(), MOCK_SUBJECT_TOKEN.encode()):
            raise ConnectorError("subject token not accepted")
        return KILGORE_TROUT


class MockPasswordConnector(ConfiguredConnector, PasswordConnector, RefreshConnector):
    """Accepts exactly one configured username and password and logs in as Kilgore Trout."""

    IDENTITY = Identity(
        user_id="0-385-28089-0",
        username="Kilgore Trout",
        email="kilgore@kilgore.trout",
        email_verified=True,
    )

    @dataclass(frozen=True)
    class Config:
        """The one username and password accepted.

        Example::

            connectors:
            - type: mockPassword
              id: mock-password
              name: Mock password
              config:
                username: admin
                password: secret
        """

        username: str = key("username")  # the only username accepted
        password: str = key("password")  # the only password accepted

        def validate(self) -> list[tuple[str, str]]:
            errors = []
            if not self.username:
                errors.append(("username", "must not be empty"))
            if not self.password:
                errors.append(("password", "must not be empty"))
            return errors

    def __init__(
        self,
        config: MockPasswordConnector.Config,
        *,
        connector_id: str = "mock-password",
        logger: logging.Logger | None = None,
    ) -> None:
        self._username = config.username.encode("utf-8")
        self._password = config.password.encode("utf-8")
        self.connector_id = connector_id
        self._log = logger or get_logger(connector_id)

    def prompt(self) -> str:
        return "Username"

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        # Compare both, always, in constant time: the answer must not depend on which one failed.
        user_ok = hmac.compare_digest(username.encode("utf-8"), self._username)
        password_ok = hmac.compare_digest(password.encode("utf-8"), self._password)
        if user_ok & password_ok:
            return self.IDENTITY
        return None

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        return identity
