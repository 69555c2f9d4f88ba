"""The built-in password database connector (Dex's ``enablePasswordDB``, connector id ``local``).

Users are looked up by e-mail address through a ``password_lookup`` callable the server injects
(static passwords from the config, then storage), and passwords are checked with bcrypt. Dex
writes ``$2a$`` hashes with cost 10; bcrypt also accepts ``$2b$`` and ``$2y$``.

The connector never reveals which addresses exist: an unknown address still costs one bcrypt
operation, at the cost most stored hashes use (the ``password_cost`` service the server
injects; 10, Dex's cost, without it). A fixed cost would let anyone tell the users whose hashes
have another cost from unknown addresses by the response time. Users whose hashes have a rarer
cost remain distinguishable, so keep every hash at one cost. bcrypt only reads the first 72
bytes of a password; longer passwords are refused as invalid credentials rather than silently
truncated.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import bcrypt

from connectors.base import (
    ConnectorError,
    Identity,
    PasswordConnector,
    RefreshConnector,
    Scopes,
    UserGone,
    get_logger,
    parse_config,
)

__all__ = [
    "MAX_PASSWORD_BYTES",
    "LocalConnector",
    "PasswordCost",
    "PasswordLookup",
    "PasswordRecord",
    "bcrypt_cost",
]

MAX_PASSWORD_BYTES = 72
DEFAULT_COST = 10  # Dex's
MIN_COST, MAX_COST = 4, 31

# bcrypt (cost 10, like Dex's hashes) of a random string nobody knows; checked when the address
# is unknown so that a miss costs as much as a hit.
_DUMMY_HASH = b"$2b$10$tclGXW2HX6MUXLCJnGGot.dexIZpbTUtKj5CwWPTZJ0CY2zRHJ4D2"
_BCRYPT_PREFIX = re.compile(rb"^\$2[abxy]?\$(\d\d)\$")


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost (log2 rounds) of a bcrypt hash, or None if it is not one."""
    m = _BCRYPT_PREFIX.match(hashed)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class PasswordRecord:
    """One user of the password database, as ``password_lookup`` returns it."""

    email: str
    hash: bytes  # bcrypt
    username: str
    user_id: str
    groups: tuple[str, ...] = ()


PasswordLookup = Callable[[str], PasswordRecord | None]
"""``password_lookup(lower_cased_email) -> PasswordRecord | None``, injected by the server."""

PasswordCost = Callable[[], int]
"""``password_cost() -> int``: the bcrypt cost of most stored hashes, injected by the server."""


class LocalConnector(PasswordConnector, RefreshConnector):
    """Log in with an e-mail address and password from the password database."""

    @dataclass(frozen=True)
    class Config:
        """The ``local`` connector takes no settings; users come from ``staticPasswords`` and
        ``dex-py passwords``. Example::

            enablePasswordDB: true
        """

    def __init__(
        self,
        password_lookup: PasswordLookup,
        *,
        password_cost: PasswordCost | None = None,
        connector_id: str = "local",
        logger: logging.Logger | None = None,
    ) -> None:
        self._lookup = password_lookup
        self._cost = password_cost or (lambda: DEFAULT_COST)
        self._dummies = {DEFAULT_COST: _DUMMY_HASH}  # cost -> hash of a secret nobody knows
        self._dummy_lock = threading.Lock()
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
        lookup = services.get("password_lookup")
        if not callable(lookup):
            raise TypeError("the local connector needs the password_lookup service")
        cost = services.get("password_cost")
        return cls(
            lookup,
            password_cost=cost if callable(cost) else None,
            connector_id=connector_id,
            logger=logger,
        )

    def prompt(self) -> str:
        return "Email Address"

    def _find(self, email: str) -> PasswordRecord | None:
        try:
            return self._lookup(email.lower())
        except Exception as exc:  # storage down: tell the user without details
            self._log.error("password lookup failed: %s", type(exc).__name__)
            raise ConnectorError("the password database is unavailable") from exc

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        if not password:
            return None
        secret = password.encode("utf-8")
        if len(secret) > MAX_PASSWORD_BYTES:
            return None
        record = self._find(username)
        if record is None:
            self._spend_one_check(secret)
            return None
        try:
            ok = bcrypt.checkpw(secret, record.hash)
        except ValueError as exc:  # not a bcrypt hash
            self._log.error("stored password hash for %s is not a valid bcrypt hash", record.email)
            raise ConnectorError("this account's password cannot be checked") from exc
        if not ok:
            return None
        return self._identity(scopes, record)

    def _spend_one_check(self, secret: bytes) -> None:
        """As much bcrypt work as checking a stored hash of the usual cost: check a dummy hash
        of that cost, or, the first time a cost is seen, make one (the same work)."""
        try:
            cost = int(self._cost())
        except Exception as exc:  # storage down: the lookup already worked, keep the default
            self._log.warning("password cost lookup failed: %s", type(exc).__name__)
            cost = DEFAULT_COST
        if not MIN_COST <= cost <= MAX_COST:
            cost = DEFAULT_COST
        with self._dummy_lock:
            dummy = self._dummies.get(cost)
        if dummy is not None:
            bcrypt.checkpw(secret, dummy)
            return
        made = bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(rounds=cost))
        with self._dummy_lock:
            self._dummies.setdefault(cost, made)

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        record = self._find(identity.email) if identity.email else None
        if record is None or record.user_id != identity.user_id:
            raise UserGone("user no longer exists")
        return self._identity(scopes, record)

    @staticmethod
    def _identity(scopes: Scopes, record: PasswordRecord) -> Identity:
        return Identity(
            user_id=record.user_id,
            username=record.username,
            preferred_username=record.username,
            email=record.email,
            email_verified=True,
            groups=tuple(record.groups) if scopes.groups else (),
        )
