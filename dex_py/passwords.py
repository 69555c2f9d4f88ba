"""Password database helpers for the server: hashing policy and the lookup the ``local`` connector
uses.

Human passwords are the only secrets that get a KDF (bcrypt, cost 10 like Dex). ``PasswordService``
answers ``lookup(email)`` from the config's ``staticPasswords`` first, then from storage; the
server hands ``service.lookup`` to the ``local`` connector as its ``password_lookup`` service,
and ``service.typical_cost`` as ``password_cost``: the cost of the dummy check an unknown
address gets, so it takes as long as a known one (no user enumeration by timing).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable

import bcrypt

from connectors.local import MAX_PASSWORD_BYTES, PasswordRecord, bcrypt_cost
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
COST_RECHECK_SECONDS = 300.0  # how long typical_cost() reuses its count of the stored hashes


def most_common_cost(hashes: Iterable[bytes]) -> int:
    """The bcrypt cost most of ``hashes`` use (the higher one on a tie); ``DEFAULT_COST`` if
    there are none."""
    counts = Counter(c for c in map(bcrypt_cost, hashes) if c is not None)
    if not counts:
        return DEFAULT_COST
    return max(counts, key=lambda cost: (counts[cost], cost))


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
        self._cost_lock = threading.Lock()
        self._cost: tuple[float, int] | None = None  # (monotonic time counted, cost)

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

    def typical_cost(self) -> int:
        """The bcrypt cost most users' hashes have (static and stored), recounted at most every
        ``COST_RECHECK_SECONDS``."""
        with self._cost_lock:
            now = time.monotonic()
            if self._cost is None or now - self._cost[0] >= COST_RECHECK_SECONDS:
                hashes = [r.hash for r in self._static.values()]
                stored = self._storage.list_passwords()
                hashes += [p.hash for p in stored if p.email.lower() not in self._static]
                self._cost = (now, most_common_cost(hashes))
            return self._cost[1]

    def list_static(self) -> list[PasswordRecord]:
        """The config-defined users, in config order."""
        return list(self._static.values())
