"""The transactions under SQL storage, and create/get/update/delete/list of one ``Entity``.

``SQLTransactions`` owns the engine. A read is one connection (in autocommit on PostgreSQL: no
BEGIN/ROLLBACK round trips around a ``SELECT``); a write is one transaction that holds the write
lock on SQLite from its first statement (``BEGIN IMMEDIATE``, see
``engine.install_sqlite_hooks``). ``_update`` is ``SELECT ... FOR UPDATE`` (PostgreSQL, MySQL),
then ``fn(old)``, then ``UPDATE``, in one such transaction; ``_update_optimistic`` is the
alternative without the lock on PostgreSQL (refresh tokens): a read, then one conditional
``UPDATE``. ``storage.sql.SQLStorage`` maps the ``Storage`` protocol onto these, one entity
at a time. Housekeeping runs many short write transactions on one connection without the
statement timeout (``_unbounded_batches``).

Fork safety: an engine created before gunicorn forks is fine; the first call in a new process
gives that process a fresh pool (``dispose_after_fork``), so connections are never shared.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from dex_py.storage.base import (
    AlreadyExistsError,
    NotFoundError,
    RefreshToken,
    StorageError,
    Updater,
)
from dex_py.storage.engine import AUTOCOMMIT_DEFAULT, SQLITE_LOCK_OPTION, install_sqlite_hooks
from dex_py.storage.sql_entities import REFRESH, Entity
from dex_py.storage.timeouts import without_timeouts

D = TypeVar("D")
SWAP_ATTEMPTS = 3  # optimistic updates of one row that lost a race before the lock is taken
# Lock conflicts worth retrying a whole transaction for: MySQL deadlock / lock wait timeout,
# PostgreSQL serialization failure / deadlock.
_RETRY_MYSQL_CODES = (1213, 1205)
_RETRY_PG_STATES = ("40001", "40P01")


def retryable(exc: DBAPIError) -> bool:
    """Whether ``exc`` is a lock conflict after which the transaction may simply run again."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_PG_STATES:
        return True
    args: Any = getattr(orig, "args", None) or (None,)
    return args[0] in _RETRY_MYSQL_CODES


@contextlib.contextmanager
def _refused_values() -> Iterator[None]:
    """Re-raise a value our column types refuse (a naive datetime) as the plain ``ValueError``
    it is: the caller's mistake, not a database failure."""
    try:
        yield
    except sa.exc.StatementError as exc:
        if isinstance(exc.orig, ValueError) and not isinstance(exc, DBAPIError):
            raise exc.orig from None
        raise


def _apply(
    ent: Entity[D], key: str, row: RowMapping | None, fn: Updater[D]
) -> tuple[RowMapping, D, D]:
    """``(row, old, fn(old))`` for the ``row`` read under ``key``."""
    if row is None:
        raise NotFoundError(f"{ent.name} {key!r} not found")
    old = ent.codec.decode(row)
    new = fn(old)
    if new is not old and ent.normalize(ent.key_of(new)) != key:
        raise StorageError(f"updating {ent.name} {key!r} must not change its key")
    return row, old, new


class SQLTransactions:
    """Reads, writes and generic CRUD over a SQLAlchemy engine (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        install_sqlite_hooks(engine)
        self._engine = engine
        # PostgreSQL reads run in autocommit: no BEGIN/ROLLBACK round trips around a SELECT.
        # (MySQL is faster without: pymysql would send SET autocommit at each checkout.) On an
        # engine whose connections are in autocommit already (``engine.AUTOCOMMIT_DEFAULT``)
        # reads take them as they are and writes ask for a transaction; switching a pooled
        # connection costs ~0.2 ms of CPU per checkout (``bench/pg_checkout.py``), and reads
        # are the common case.
        self._read_engine = engine
        if engine.dialect.name == "postgresql":
            if engine.get_execution_options().get(AUTOCOMMIT_DEFAULT):
                self._engine = engine.execution_options(isolation_level="READ COMMITTED")
            else:
                self._read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._pid = os.getpid()
        self._sqlite = engine.dialect.name == "sqlite"
        # One shared connection (SQLite :memory:) must be used by one thread at a time.
        self._serial: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else contextlib.nullcontext()
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    def dispose_after_fork(self) -> None:
        """Drop the pool inherited from the parent process (without closing its connections)."""
        self._engine.dispose(close=False)
        self._pid = os.getpid()

    def _connect(self, engine: Engine) -> Connection:
        if os.getpid() != self._pid:
            self.dispose_after_fork()
        return engine.connect()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with _refused_values(), self._serial, self._connect(self._read_engine) as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self, *, unbounded: bool = False) -> Iterator[Connection]:
        """One transaction that holds the write lock on SQLite from its first statement.
        ``unbounded``: without the statement timeout (housekeeping that may take long)."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(self._serial)
            conn = stack.enter_context(self._connect(self._engine))
            if unbounded:
                stack.enter_context(without_timeouts(conn))
            if self._sqlite:
                conn.execution_options(**{SQLITE_LOCK_OPTION: True})
            with _refused_values(), conn.begin():
                yield conn

    @contextlib.contextmanager
    def _unbounded_batches(self) -> Iterator[Callable[[], ContextManager[Connection]]]:
        """Housekeeping: ``batch()`` opens one short write transaction (``with batch() as
        conn``), all of them on one connection without the statement timeout, so a run of
        thousands pays for the connection and its settings once. With one shared connection
        (SQLite ``:memory:``) each batch takes it in turn, as ``_write`` does."""
        if isinstance(self._engine.pool, StaticPool):
            yield lambda: self._write(unbounded=True)
            return
        with self._connect(self._engine) as conn, without_timeouts(conn):
            if self._sqlite:
                conn.execution_options(**{SQLITE_LOCK_OPTION: True})

            @contextlib.contextmanager
            def batch() -> Iterator[Connection]:
                with _refused_values(), conn.begin():
                    yield conn

            yield batch

    # generic CRUD

    def _create(self, ent: Entity[D], obj: D) -> None:
        try:
            with self._write() as conn:
                conn.execute(ent.insert, ent.row(obj))
        except IntegrityError as exc:
            raise AlreadyExistsError(f"{ent.name} {ent.key_of(obj)!r} already exists") from exc

    def _get(self, ent: Entity[D], key: str) -> D:
        key = ent.normalize(key)
        with self._read() as conn:
            row = conn.execute(ent.select_one, {"b_key": key}).mappings().first()
        if row is None:
            raise NotFoundError(f"{ent.name} {key!r} not found")
        return ent.codec.decode(row)

    def _update(
        self,
        ent: Entity[D],
        key: str,
        fn: Updater[D],
        *,
        and_then: Callable[[Connection, D], None] | None = None,
    ) -> D:
        """``fn`` on the locked row, then its result written; ``and_then(conn, new)`` writes
        more in the same transaction (all or nothing)."""
        key = ent.normalize(key)
        with self._write() as conn:
            read = conn.execute(ent.select_locked, {"b_key": key}).mappings().first()
            _, old, new = _apply(ent, key, read, fn)
            if new is not old:
                conn.execute(ent.update_one, {**ent.row(new), "b_key": key})
            if and_then is not None:
                and_then(conn, new)
            return new

    def _update_optimistic(self, ent: Entity[D], key: str, fn: Updater[D]) -> D:
        """``_update`` without the row lock, where a read needs no transaction (PostgreSQL):
        read, ``fn(old)``, then one ``UPDATE`` of the columns ``fn`` changed that matches only
        while each of them still holds the value read (compare-and-swap, in autocommit: one
        round trip, commit included, instead of BEGIN, SELECT FOR UPDATE, UPDATE, COMMIT). If
        another request changed one of them in between, ``fn`` runs again on what it wrote;
        after ``SWAP_ATTEMPTS`` lost races the row lock is taken. The answer is the row as
        stored (``RETURNING``), so a column changed meanwhile by someone else shows in it."""
        if self._read_engine is self._engine:
            return self._update(ent, key, fn)
        key = ent.normalize(key)
        with self._read() as conn:
            for _ in range(SWAP_ATTEMPTS):
                read = conn.execute(ent.select_one, {"b_key": key}).mappings().first()
                row, old, new = _apply(ent, key, read, fn)
                if new is old:
                    return old
                after = ent.row(new)
                changed = tuple(col for col, value in after.items() if row[col] != value)
                if not changed:
                    return new
                was_null = tuple(row[col] is None for col in changed)
                params = {"b_key": key}
                for col, null in zip(changed, was_null, strict=True):
                    params["new_" + col] = after[col]
                    if not null:
                        params["old_" + col] = row[col]
                stmt = ent.swap_statement(changed, was_null)
                stored = conn.execute(stmt, params).mappings().first()
                if stored is not None:
                    return ent.codec.decode(stored)
        return self._update(ent, key, fn)

    def _redeem(
        self, ent: Entity[D], key: str, fn: Updater[D], issue: Callable[[D], RefreshToken | None]
    ) -> D:
        """``_update`` of ``ent`` and, in the same transaction, the creation of the refresh
        token ``issue`` returns for the new value (if any): both are written or neither."""
        created: list[RefreshToken] = []

        def and_then(conn: Connection, new: D) -> None:
            token = issue(new)
            if token is not None:
                created.append(token)
                conn.execute(REFRESH.insert, REFRESH.row(token))

        try:
            return self._update(ent, key, fn, and_then=and_then)
        except IntegrityError as exc:
            if not created:
                raise
            raise AlreadyExistsError(f"refresh token {created[0].id!r} already exists") from exc

    def _delete(self, ent: Entity[D], key: str) -> None:
        key = ent.normalize(key)
        with self._write() as conn:
            deleted = conn.execute(ent.delete_one, {"b_key": key}).rowcount
        if not deleted:
            raise NotFoundError(f"{ent.name} {key!r} not found")

    def _list(self, ent: Entity[D], *where: sa.ColumnElement[bool]) -> list[D]:
        stmt = sa.select(ent.table).where(*where).order_by(*ent.order_by)
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [ent.codec.decode(row) for row in rows]
