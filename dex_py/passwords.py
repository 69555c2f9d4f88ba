"""Password database helpers for the server: hashing policy and the lookup the ``local`` connector
uses.

Human passwords are the only secrets that get a KDF (bcrypt, cost 10 like Dex). ``PasswordService``
answers ``lookup(email)`` from the config's ``staticPasswords`` first, then from storage; the
server hands ``service.lookup`` to the ``local`` connector as its ``password_lookup`` service.
"""

from __future__ import annotations

from collections.abc import Iterable

import bcrypt

from connectors.local import MAX_PASSWORD_BYTES, PasswordRecord
from dex_py.config import StaticPassword
from dex_py.storage.base import NotFoundError, Storage

__all__ = [
    "DEFAULT_COST",
    "MAX_PASSWORD_BYTES",
    "PasswordService",
    "check_password_policy",
    "hash_password",
]

DEFAULT_COST = 10
MIN_COST = 4
MAX_COST = 31


def check_password_policy(plain: str) -> None:
    """Raise ``ValueError`` naming the rule if ``plain`` cannot be used as a password."""
    if not plain:
        raise ValueError("password must not be empty")
    if len(plain.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)")


def hash_password(plain: str, cost: int = DEFAULT_COST) -> bytes:
    """bcrypt hash of ``plain`` (``$2b$``; Dex verifies these too)."""
    check_password_policy(plain)
    if not MIN_COST <= cost <= MAX_COST:
        raise ValueError(f"bcrypt cost must be between {MIN_COST} and {MAX_COST}")
    return bcrypt.hashpw(plain.encode("utf-8"), bcrypt.gensalt(rounds=cost))


def _static_record(p: StaticPassword) -> PasswordRecord:
    return PasswordRecord(
        email=p.email.lower(),
        hash=p.hash,
        username=p.username,
        user_id=p.user_id,
        groups=tuple(p.groups),
    )


class PasswordService:
    """The password database: config-defined users (read-only) over storage."""

    def __init__(self, storage: Storage, static: Iterable[StaticPassword] = ()) -> None:
        self._storage = storage
        self._static = {r.email: r for r in map(_static_record, static)}

    def is_static(self, email: str) -> bool:
        """Whether ``email`` is defined in ``staticPasswords`` (and so cannot be changed)."""
        return email.lower() in self._static

    def lookup(self, email: str) -> PasswordRecord | None:
        """The user with this e-mail address (case-insensitive), or ``None``."""
        email = email.lower()
        record = self._static.get(email)
        if record is not None:
            return record
        try:
            p = self._storage.get_password(email)
        except NotFoundError:
            return None
        return PasswordRecord(
            email=p.email,
            hash=p.hash,
            username=p.username,
            user_id=p.user_id,
            groups=tuple(p.groups),
        )

    def list_static(self) -> list[PasswordRecord]:
        """The config-defined users, in config order."""
        return list(self._static.values())
