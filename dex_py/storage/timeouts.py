"""Database timeouts, so a database that stops answering cannot hang a worker.

A database host that hangs (paused VM, stopped process, dropped packets) usually still accepts
TCP connections, or leaves established ones open, so without timeouts every request blocks
forever. Each SQL engine gets:

- a connect timeout (``connectionTimeout``, Dex's key): libpq ``connect_timeout``, pymysql
  ``connect_timeout``;
- a statement timeout (``statementTimeout``, dex-py): enforced by the server
  (PostgreSQL ``statement_timeout``, MariaDB ``max_statement_time``, MySQL
  ``max_execution_time`` + ``innodb_lock_wait_timeout``), which cancels a slow statement and
  keeps the connection; and, ``CLIENT_MARGIN`` seconds later, by the client, which gives up on a
  server that does not answer at all and drops that connection (psycopg: ``_DeadlineConnection``;
  pymysql: ``read_timeout``/``write_timeout``);
- a pool timeout (``poolTimeout``, dex-py): how long a request waits for a free pooled
  connection;
- on SQLite, a busy timeout (``busyTimeout``, dex-py): how long a writer waits for another
  process's write lock.

Timeouts are whole seconds; 0 turns one off. Schema migrations and garbage collection run
without them (``without_timeouts``): an ``ALTER TABLE`` or a ``DELETE`` of a large backlog, or
waiting for another replica's migration, may take longer. What a request gets when it runs
into one: ``error_handlers`` answers 503 for ``storage.DATABASE_UNAVAILABLE``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

CLIENT_MARGIN = 2.0  # seconds after the server's own statement timeout
MIGRATION_LOCK_WAIT = 300  # seconds: SQLite busy timeout while another process migrates


@dataclass(frozen=True)
class Timeouts:
    """Seconds; 0 means no timeout."""

    connect: int = 5
    statement: int = 5
    pool: int = 5
    busy: int = 10  # SQLite only

    @property
    def client_deadline(self) -> float | None:
        """Seconds the client waits for any answer from the server (None: forever)."""
        return self.statement + CLIENT_MARGIN if self.statement else None


DEFAULTS = Timeouts()


def pymysql_args(t: Timeouts) -> dict[str, Any]:
    """pymysql connect arguments for ``t`` (socket timeouts: the client-side deadline)."""
    args: dict[str, Any] = {}
    if t.connect:
        args["connect_timeout"] = t.connect
    if (deadline := t.client_deadline) is not None:
        args["read_timeout"] = args["write_timeout"] = deadline
    return args


def install(engine: Engine, t: Timeouts) -> None:
    """Apply ``t`` to every new connection of a PostgreSQL or MySQL/MariaDB engine."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "do_connect", _postgres_connector(t))
    if t.statement:
        event.listen(engine, "connect", _server_timeout_setter(t.statement))


def _postgres_connector(t: Timeouts) -> Any:
    def connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        conn = _DeadlineConnection.connect(*cargs, **cparams)
        conn.deadline = t.client_deadline
        return conn

    return connect


def _server_timeout_setter(seconds: int) -> Any:
    def set_timeout(dbapi_conn: Any, record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            for statement in _session_statements(dbapi_conn, seconds):
                cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_conn.commit()

    return set_timeout


def _session_statements(dbapi_conn: Any, seconds: int | None) -> list[str]:
    """Statements that set the server-side statement timeout (``None``/0: off)."""
    if _is_postgres(dbapi_conn):
        return [f"SET statement_timeout = {int((seconds or 0) * 1000)}"]
    info = str(dbapi_conn.get_server_info())
    if "mariadb" in info.lower():
        statements = [f"SET SESSION max_statement_time = {int(seconds or 0)}"]
    else:
        statements = [f"SET SESSION max_execution_time = {int((seconds or 0) * 1000)}"]
    # Row-lock waits: at least 1 s (the server's minimum); 0 ("off") restores its default.
    lock_wait = "DEFAULT" if not seconds else str(max(int(seconds), 1))
    return [*statements, f"SET SESSION innodb_lock_wait_timeout = {lock_wait}"]


def _is_postgres(dbapi_conn: Any) -> bool:
    return hasattr(dbapi_conn, "pgconn")


@contextlib.contextmanager
def without_timeouts(conn: sa.Connection) -> Iterator[None]:
    """Run a long operation (a schema migration) on ``conn`` with its timeouts off.

    Afterwards a server connection is invalidated, so the pool never hands out a connection
    without its timeouts; SQLite gets its busy timeout back (its ``:memory:`` database lives
    in its one connection)."""
    dbapi_conn: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {MIGRATION_LOCK_WAIT * 1000}")
        conn.commit()
        try:
            yield
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy)}")
            conn.commit()
        return
    for statement in _session_statements(dbapi_conn, None):
        conn.exec_driver_sql(statement)
    conn.commit()
    if isinstance(dbapi_conn, _DeadlineConnection):
        dbapi_conn.deadline = None
    elif hasattr(dbapi_conn, "_read_timeout"):  # pymysql
        dbapi_conn._read_timeout = dbapi_conn._write_timeout = None
    try:
        yield
    finally:
        conn.invalidate()


def _psycopg_connection_class() -> Any:
    try:
        import psycopg
    except ImportError:  # PostgreSQL support not installed
        return object
    return psycopg.Connection


class _DeadlineConnection(_psycopg_connection_class()):  # type: ignore[misc]
    """A psycopg connection that waits at most ``deadline`` seconds for the server to answer.

    When the server does not answer in time (it is stopped, or the network dropped it) the
    connection is closed and ``psycopg.OperationalError`` raised, so SQLAlchemy discards it as
    disconnected. psycopg's ``Connection.wait`` takes the timeout (psycopg >= 3.3)."""

    deadline: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is not None or self.deadline is None:
            return super().wait(gen, interval=interval, timeout=timeout)
        import psycopg

        try:
            return super().wait(gen, interval=interval, timeout=self.deadline)
        except psycopg.errors._WaitTimeout:
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"no answer from the database server within {self.deadline:g}s; connection closed"
            ) from None
