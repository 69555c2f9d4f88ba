"""The auth proxy's server-side sessions in an SQL database: SQLite, PostgreSQL (psycopg 3) or
MySQL/MariaDB (PyMySQL), the drivers dex-py already depends on.

Every worker and replica pointed at the same database sees the same sessions, so sign-out and
Back-Channel Logout (OpenID Connect Back-Channel Logout 1.0 §2.7) end a session everywhere.
SQLAlchemy 2 Core runs on a sync engine; each operation is one transaction run on the store's
own small thread pool, so the proxy's event loop never waits on the database. The table
(``session.sql.table``, default ``proxy_sessions``) is created on first use when missing, with
indexes on ``subject``, ``issuer_sid`` (Back-Channel Logout) and ``expires_at`` (purging).

``put`` is one upsert statement per dialect (``ON CONFLICT DO UPDATE`` on SQLite and
PostgreSQL, ``ON DUPLICATE KEY UPDATE`` on MySQL), atomic under concurrent writers; a
deadlock MySQL may report for concurrent upserts of one key is retried. Ids, subjects and sids
compare exactly on every database: on MySQL they are stored as ``VARBINARY`` because its
default collations ignore case and trailing spaces.

``postgresql://`` and ``mysql://`` URLs use psycopg 3 and PyMySQL. SQLite runs in WAL mode
(workers on one host share the file; readers never wait for a writer). Nothing connects before
the first operation, so a worker process opens its own store after it is started (a pool must
not cross a fork), and a database that is down is StoreUnavailable, not a failed start.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import mysql, postgresql, sqlite

from dex_py.proxy.store_base import (
    StoreConfigError,
    StoredSession,
    StoreSettings,
    StoreUnavailable,
)

T = TypeVar("T")

URL_KEY = "session.sql.url"
TABLE_KEY = "session.sql.table"

# The OpenID Connect ``sub`` is at most 255 ASCII characters (Core 1.0 §2); sids are short.
MAX_ID = 128
MAX_SUBJECT = 255
MAX_SID = 255

_CONNECTIONS = 8  # per store (per worker process): threads and pooled connections
_ATTEMPTS = 3  # a transaction a deadlock or lock timeout broke is run again
_CONNECT_TIMEOUT = 5  # seconds; a down database answers StoreUnavailable, not a hang
PING_AFTER_IDLE = 10.0  # seconds a pooled connection may sit unused before a check at checkout
_LAST_USED = "dexpy_proxy_store_last_used"
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
# Plain backend names map to the drivers dex-py depends on (psycopg 3, PyMySQL).
_DEFAULT_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")
_ASYNC_DRIVERS = ("asyncpg", "aiosqlite", "aiomysql", "asyncmy", "psycopg_async")
_MYSQL = ("mysql", "mariadb")
_TRANSIENT_MYSQL_ERRORS = (1205, 1213)  # lock wait timeout, deadlock
_TRANSIENT_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock detected


class ExactText(sa.types.TypeDecorator[str]):
    """A string compared byte for byte on every database (VARBINARY on MySQL, whose default
    collations would match ``ABC`` for ``abc`` and ignore trailing spaces)."""

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length  # characters

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in _MYSQL:
            return dialect.type_descriptor(mysql.VARBINARY(4 * self.length))  # UTF-8 bytes
        return dialect.type_descriptor(sa.String(self.length))

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> Any:
        if value is not None and dialect.name in _MYSQL:
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if isinstance(value, bytes | bytearray):
            return bytes(value).decode("utf-8")
        return value


def session_table(name: str) -> sa.Table:
    """The sessions table: one row a session, ``data`` as binary (LONGBLOB on MySQL, whose
    BLOB stops at 64 KB and group lists can be larger)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", ExactText(MAX_ID), primary_key=True),
        sa.Column("subject", ExactText(MAX_SUBJECT), nullable=False),
        sa.Column("issuer_sid", ExactText(MAX_SID), nullable=False),
        sa.Column(
            "data",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL),
            nullable=False,
        ),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Index(f"ix_{name}_subject", "subject"),
        sa.Index(f"ix_{name}_issuer_sid", "issuer_sid"),
        sa.Index(f"ix_{name}_expires_at", "expires_at"),
    )


def parse_sql_url(raw: str) -> sa.URL:
    """The SQLAlchemy URL of ``session.sql.url``, with the project's drivers filled in;
    StoreConfigError (never echoing the URL, which may hold a password) when unusable."""
    if not raw.strip():
        raise StoreConfigError(URL_KEY, "required with session.store: sql")
    try:
        url = sa.make_url(raw.strip())
    except (sa.exc.ArgumentError, ValueError):
        raise StoreConfigError(
            URL_KEY,
            "not an SQLAlchemy database URL (like postgresql+psycopg://user@host/db, "
            "mysql+pymysql://user@host/db or sqlite:////path/sessions.db)",
        ) from None
    if url.drivername in _DEFAULT_DRIVERS:
        url = url.set(drivername=_DEFAULT_DRIVERS[url.drivername])
    backend = url.get_backend_name()
    if backend not in _BACKENDS:
        raise StoreConfigError(
            URL_KEY, f"unsupported database {backend!r}: use sqlite, postgresql or mysql"
        )
    driver = url.get_driver_name()  # loads the dialect: only for a backend we support
    if driver in _ASYNC_DRIVERS:
        raise StoreConfigError(
            URL_KEY, f"driver {driver!r} is asynchronous; use a sync driver (psycopg, pymysql)"
        )
    if backend == "sqlite":
        _check_sqlite_file(url)
    return url


def _check_sqlite_file(url: sa.URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise StoreConfigError(
            URL_KEY,
            "an in-memory SQLite database is private to one connection; "
            "give a file (sqlite:////path/sessions.db) or use session.store: memory",
        )
    if database.startswith("file:"):
        return  # a URI filename: SQLite resolves it
    if not Path(database).parent.is_dir():
        raise StoreConfigError(URL_KEY, f"the directory of {database!r} does not exist")


def _install_connection_hooks(engine: sa.Engine) -> None:
    """SQLite: WAL, so readers never wait for a writer in another worker, and ``synchronous =
    NORMAL`` (an OS crash may lose the last sessions written: their users log in again).
    Every database: a pooled connection is checked before use only after it sat idle for
    ``PING_AFTER_IDLE`` seconds (the server may have restarted meanwhile), not on every
    checkout, which would cost a round trip per operation under load."""

    @event.listens_for(engine, "connect")
    def _connected(dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()
        if engine.dialect.name == "sqlite":  # sqlite3 connections execute directly
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
            dbapi_conn.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) < PING_AFTER_IDLE:
            return
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_conn.rollback()
        except Exception as exc:
            raise sa.exc.DisconnectionError("a pooled connection went stale") from exc


def _connect_args(url: sa.URL) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "sqlite":
        wanted: dict[str, Any] = {"timeout": 15}
    elif backend == "postgresql":
        wanted = {"connect_timeout": _CONNECT_TIMEOUT}
    else:
        wanted = {"connect_timeout": _CONNECT_TIMEOUT, "read_timeout": 30, "write_timeout": 30}
    return {k: v for k, v in wanted.items() if k not in url.query}


def describe(url: sa.URL) -> str:
    """Where the database is, for messages: never the password or the query string."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"SQLite {url.database}"
    name, default_port = {
        "postgresql": ("PostgreSQL", 5432),
        "mysql": ("MySQL", 3306),
        "mariadb": ("MariaDB", 3306),
    }.get(backend, (backend, 0))
    return f"{name} at {url.host or 'localhost'}:{url.port or default_port}/{url.database or ''}"


class SQLStore:
    """Sessions in one table of an SQL database; safe to share between processes."""

    def __init__(self, url: sa.URL, table: str = "proxy_sessions") -> None:
        if not _TABLE_NAME.match(table):
            raise StoreConfigError(
                TABLE_KEY, "a table name of letters, digits and _ (at most 40 characters)"
            )
        self._where = describe(url)
        self._password = url.password or ""
        try:
            self._engine = sa.create_engine(
                url,
                pool_size=_CONNECTIONS,
                max_overflow=0,
                pool_timeout=30,
                hide_parameters=True,  # a driver error never carries session data
                connect_args=_connect_args(url),
            )
        except (ImportError, sa.exc.NoSuchModuleError):
            raise StoreConfigError(
                URL_KEY, f"the driver {url.drivername!r} is not installed or unknown"
            ) from None
        except (sa.exc.ArgumentError, TypeError):
            raise StoreConfigError(URL_KEY, "options the database driver does not take") from None
        _install_connection_hooks(self._engine)
        self._table = session_table(table)
        self._dialect = self._engine.dialect.name
        self._executor = ThreadPoolExecutor(_CONNECTIONS, thread_name_prefix="proxy-store-sql")
        self._table_lock = threading.Lock()
        self._table_ready = False
        self._closed = False

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> SQLStore:
        return cls(parse_sql_url(settings.url), settings.table)

    async def put(self, session: StoredSession) -> None:
        _check_fields(session)
        row = {
            "id": session.id,
            "subject": session.subject,
            "issuer_sid": session.issuer_sid,
            "data": bytes(session.data),
            "expires_at": float(session.expires_at),
        }
        statement = upsert(self._dialect, self._table, row)
        await self._run(lambda conn: conn.execute(statement))

    async def get(self, session_id: str) -> StoredSession | None:
        if not _storable(session_id, MAX_ID):
            return None
        t = self._table
        query = sa.select(t).where(t.c.id == session_id, t.c.expires_at > time.time())
        row = await self._run(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return StoredSession(
            id=row.id,
            subject=row.subject,
            issuer_sid=row.issuer_sid,
            data=bytes(row.data),
            expires_at=float(row.expires_at),
        )

    async def delete(self, session_id: str) -> None:
        if _storable(session_id, MAX_ID):
            await self._delete_where(self._table.c.id == session_id)

    async def delete_for(self, *, subject: str = "", issuer_sid: str = "") -> int:
        t = self._table
        if issuer_sid:
            if not _storable(issuer_sid, MAX_SID):
                return 0
            return await self._delete_where(t.c.issuer_sid == issuer_sid)
        if subject and _storable(subject, MAX_SUBJECT):
            return await self._delete_where(t.c.subject == subject)
        return 0

    async def purge_expired(self) -> int:
        return await self._delete_where(self._table.c.expires_at <= time.time())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._engine.dispose)
        self._executor.shutdown(wait=False)

    async def _delete_where(self, condition: sa.ColumnElement[bool]) -> int:
        statement = sa.delete(self._table).where(condition)
        return await self._run(lambda conn: conn.execute(statement).rowcount)

    async def _run(self, work: Callable[[sa.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable(f"the session store ({self._where}) is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, work)

    def _transaction(self, work: Callable[[sa.Connection], T]) -> T:
        """Runs in a store thread: one transaction, retried when a deadlock broke it."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                self._ensure_table()
                with self._engine.begin() as conn:
                    return work(conn)
            except sa.exc.DBAPIError as exc:
                if attempt < _ATTEMPTS and _transient(exc):
                    continue
                raise self._unavailable(exc) from None
            except sa.exc.SQLAlchemyError as exc:
                raise self._unavailable(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_table(self) -> None:
        if self._table_ready:
            return
        with self._table_lock:
            if self._table_ready:
                return
            try:
                self._table.create(self._engine, checkfirst=True)
            except sa.exc.DBAPIError:
                # Another worker created it between the check and the CREATE.
                if not sa.inspect(self._engine).has_table(self._table.name):
                    raise
            self._table_ready = True

    def _unavailable(self, exc: sa.exc.SQLAlchemyError) -> StoreUnavailable:
        """A message naming the database and, for connection failures, the driver's first
        line: never statement parameters (session data) and never the password."""
        reason = type(exc).__name__
        orig = getattr(exc, "orig", None)
        if orig is not None:
            reason = type(orig).__name__
            if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
                first_line = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
                reason = f"{reason}: {first_line[:200]}"
        if self._password:
            reason = reason.replace(self._password, "***")
        return StoreUnavailable(f"the session store ({self._where}) is unavailable: {reason}")


def upsert(dialect: str, table: sa.Table, row: dict[str, Any]) -> sa.Executable:
    """Insert ``row`` or, when its id exists, overwrite the other columns: one atomic
    statement on each database."""
    replaced = [c for c in row if c != "id"]
    if dialect in _MYSQL:
        on_mysql = mysql.insert(table).values(row)
        return on_mysql.on_duplicate_key_update({c: on_mysql.inserted[c] for c in replaced})
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(row)
    return statement.on_conflict_do_update(
        index_elements=[table.c.id], set_={c: statement.excluded[c] for c in replaced}
    )


def _transient(exc: sa.exc.DBAPIError) -> bool:
    """Errors a new attempt can get past: a pooled connection the server closed (restart,
    idle timeout; the pool has dropped it), a deadlock, a lock timeout."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in _TRANSIENT_MYSQL_ERRORS:
        return True
    return "database is locked" in str(orig)  # SQLite, past its busy timeout


def _check_fields(session: StoredSession) -> None:
    """ValueError for what no column can hold (PostgreSQL text refuses NUL)."""
    for name, value, limit in (
        ("id", session.id, MAX_ID),
        ("subject", session.subject, MAX_SUBJECT),
        ("issuer_sid", session.issuer_sid, MAX_SID),
    ):
        if not _storable(value, limit):
            raise ValueError(f"session {name}: at most {limit} characters, no NUL")


def _storable(value: str, limit: int) -> bool:
    """Whether a column of ``limit`` characters can hold ``value``: a lookup of anything
    else matches nothing."""
    return len(value) <= limit and "\x00" not in value
