"""Server-side sessions of the auth proxy: what a store keeps and the operations every backend
(memory, SQL, Redis) implements.

With ``session.store`` other than ``cookie``, the browser's cookie carries only the (encrypted)
session id and the session itself lives here: group lists of any size, and sign-out or the
issuer's Back-Channel Logout (OpenID Connect Back-Channel Logout 1.0 §2.7) end it at once for
every worker and replica. ``data`` is opaque to the store: the proxy encrypts it before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredSession:
    id: str  # random, url-safe; the cookie carries it
    subject: str  # the ID token's sub
    issuer_sid: str  # the ID token's sid ("" when the issuer sent none)
    data: bytes  # opaque to the store
    expires_at: float  # unix seconds; a store never returns a session past it


@dataclass(frozen=True)
class StoreSettings:
    """``session.store`` and its options, as the proxy's config reads them."""

    kind: str  # "memory", "sql" or "redis"
    url: str = ""  # sql: an SQLAlchemy URL (sqlite/postgresql/mysql); redis: redis://...
    key_prefix: str = "dexpy-proxy:"  # redis key prefix
    table: str = "proxy_sessions"  # sql table (created when missing)


class StoreConfigError(ValueError):
    """Settings a store cannot work with; ``key`` names the config key (``session.sql.url``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached; the proxy answers 503, never lets the request in."""


class SessionStore(Protocol):
    async def put(self, session: StoredSession) -> None:
        """Insert or replace the session with this id."""

    async def get(self, session_id: str) -> StoredSession | None:
        """The session, or None when it is missing or expired."""

    async def delete(self, session_id: str) -> None:
        """Remove one session (sign-out); no error when it is gone."""

    async def delete_for(self, *, subject: str = "", issuer_sid: str = "") -> int:
        """Back-channel logout: remove the sessions of ``issuer_sid`` when given, else every
        session of ``subject``; returns how many went."""

    async def purge_expired(self) -> int:
        """Remove expired sessions; returns how many went."""

    async def close(self) -> None:
        """Release connections."""
