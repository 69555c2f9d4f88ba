"""Opens the session store that ``session.store`` names: ``memory`` (one process), ``sql``
(SQLite, PostgreSQL, MySQL/MariaDB) or ``redis``. The SQL and Redis stores are shared by every
worker and replica, which is what makes sign-out and Back-Channel Logout reach all of them.

Opening checks the settings only (StoreConfigError naming the key); it does not connect. A
backend that is down shows as StoreUnavailable from the first operation that needs it, so the
proxy starts, answers 503 on ``/ready``, and recovers by itself when the backend comes back.
"""

from __future__ import annotations

from dex_py.proxy.store_base import SessionStore, StoreConfigError, StoreSettings
from dex_py.proxy.store_memory import MemoryStore

STORE_KEY = "session.store"


def open_store(settings: StoreSettings) -> SessionStore:
    """The store for ``settings``; StoreConfigError for settings it cannot work with."""
    if settings.kind == "memory":
        return MemoryStore()
    if settings.kind == "sql":
        from dex_py.proxy.store_sql import SQLStore  # SQLAlchemy only when it is used

        return SQLStore.from_settings(settings)
    if settings.kind == "redis":
        from dex_py.proxy.store_redis import RedisStore

        return RedisStore.from_settings(settings)
    if settings.kind == "cookie":
        raise StoreConfigError(STORE_KEY, "cookie sessions live in the cookie: there is no store")
    raise StoreConfigError(
        STORE_KEY, f"unknown store {settings.kind!r}: cookie, memory, sql or redis"
    )
