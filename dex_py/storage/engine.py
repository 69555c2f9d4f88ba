"""SQLAlchemy engines for the SQL backends, from a checked ``storage`` section.

``make_engine(cfg)`` builds the engine that ``dex_py.storage.settings`` describes (URL, driver
options, pool and timeouts), installs the statement timeouts and, for SQLite, the locking and
durability hooks.

Engines connect lazily. After a fork (gunicorn workers) ``SQLStorage`` gives the child a fresh
pool (``Engine.dispose(close=False)``), so no connection is ever shared between processes.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import StaticPool

from dex_py.config.model import StorageConfig
from dex_py.storage import timeouts as tmo
from dex_py.storage.settings import SQLITE_SYNCHRONOUS, parse_settings

log = logging.getLogger(__name__)

SQLITE_LOCK_OPTION = "dexpy_sqlite_immediate"  # execution option: BEGIN IMMEDIATE


def describe_url(url: URL) -> str:
    """Where a URL points, for messages: never the password."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite file {url.database}"
    where = url.host or url.query.get("host") or url.query.get("unix_socket") or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{url.get_backend_name()} at {where}{port}, database {url.database!r}"


def error_reason(exc: BaseException) -> str:
    """A database error in one line for logs: the driver's exception type and the first line of
    its message (never the statement's parameters, nor the password)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}"


# An engine whose PostgreSQL connections are in autocommit unless a transaction is asked for
# (``storage.sql_transactions``): what ``open_storage`` hands the storage after migrating.
AUTOCOMMIT_DEFAULT = "dexpy_autocommit_default"


def make_engine(cfg: StorageConfig, *, autocommit_default: bool = False) -> Engine:
    """Create (without connecting) the engine for a SQL storage config. ``autocommit_default``
    (PostgreSQL only): pooled connections stay in autocommit, so a read needs no switching at
    checkout; the storage asks for transactions where it writes (never for migrations)."""
    parsed = parse_settings(cfg)
    for warning in parsed.warnings:
        log.warning("%s", warning)
    url = parsed.url
    if url.get_backend_name() == "sqlite":
        return make_sqlite_engine(
            url.database or "", busy_timeout=parsed.timeouts.busy, synchronous=parsed.synchronous
        )
    # hide_parameters: error messages must never carry values (the keys table holds private keys).
    extra: dict[str, Any] = {}
    if autocommit_default and url.get_backend_name() == "postgresql":
        extra = {"isolation_level": "AUTOCOMMIT", "execution_options": {AUTOCOMMIT_DEFAULT: True}}
    engine = sa.create_engine(
        url, connect_args=parsed.connect_args, hide_parameters=True, **parsed.engine_kw, **extra
    )
    tmo.install(engine, parsed.timeouts)
    _ping_when_idle(engine)
    return engine


IDLE_PING_AFTER = 10.0  # seconds


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout (two per refresh grant);
    under load connections are reused within milliseconds, so a ping then buys nothing. A
    connection idle for ``IDLE_PING_AFTER`` seconds (the database may have restarted meanwhile)
    is pinged, and a dead one is replaced transparently: raising ``DisconnectionError`` in the
    checkout event makes the pool reconnect."""

    @event.listens_for(engine, "checkin")
    def _mark_used(dbapi_conn: Any, record: Any) -> None:
        record.info["dexpy_last_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        last = record.info.get("dexpy_last_used")
        if last is not None and time.monotonic() - last < IDLE_PING_AFTER:
            return
        try:
            ping_connection(dbapi_conn)
        except Exception as exc:
            raise sa.exc.DisconnectionError("stale pooled connection") from exc


def ping_connection(dbapi_conn: Any) -> None:
    """One round trip on a raw DB-API connection; raises if it is dead."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SELECT 1")
    finally:
        cursor.close()
    dbapi_conn.rollback()


def make_sqlite_engine(
    file: str, *, busy_timeout: int = tmo.DEFAULTS.busy, synchronous: str = "full"
) -> Engine:
    """A SQLite engine: WAL, busy timeout, BEGIN IMMEDIATE for writers (see ``sqlite_hooks``)."""
    memory = file in ("", ":memory:")
    if not memory:
        # Like Dex, a relative file is relative to the working directory; create its folder so
        # the example config (var/dex.db) runs on a fresh checkout.
        Path(file).parent.mkdir(parents=True, exist_ok=True)
    url = URL.create("sqlite+pysqlite", database=None if memory else file)
    kw: dict[str, Any] = {"connect_args": {"check_same_thread": False}, "hide_parameters": True}
    if memory:
        kw["poolclass"] = StaticPool  # every checkout must see the same in-memory database
    else:
        kw["connect_args"]["timeout"] = busy_timeout
        kw.update(pool_size=2, max_overflow=8, pool_timeout=busy_timeout or None)
    engine = sa.create_engine(url, **kw)
    install_sqlite_hooks(engine, busy_timeout=busy_timeout, synchronous=synchronous)
    return engine


def install_sqlite_hooks(
    engine: Engine, *, busy_timeout: int = tmo.DEFAULTS.busy, synchronous: str = "full"
) -> None:
    """Take over SQLite transaction control (idempotent; no-op for other databases).

    pysqlite's own BEGIN handling is switched off (``isolation_level = None``). Transactions of
    connections carrying the execution option ``SQLITE_LOCK_OPTION`` start with ``BEGIN
    IMMEDIATE``, which takes the database write lock up front, so read-modify-write cycles in
    several processes queue on the busy timeout instead of losing a write. Other connections run
    each statement in autocommit, which in WAL mode never blocks a writer. Every connection
    gets the busy timeout and ``PRAGMA synchronous`` (``full``: a commit survives power loss).
    """
    if engine.dialect.name != "sqlite" or event.contains(engine, "begin", _sqlite_begin):
        return
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {SQLITE_SYNCHRONOUS}, got {synchronous!r}")
    pragmas = (
        f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}",
        "PRAGMA journal_mode = WAL",  # ignored (stays "memory") for :memory:
        f"PRAGMA synchronous = {synchronous.upper()}",
    )

    def connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    event.listen(engine, "connect", connect)
    event.listen(engine, "begin", _sqlite_begin)
    engine.dispose()  # pooled connections opened before the hooks lack the connect settings


def _sqlite_begin(conn: sa.Connection) -> None:
    if conn.get_execution_options().get(SQLITE_LOCK_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
