"""SQL storage (SQLite, PostgreSQL, MySQL/MariaDB) with SQLAlchemy Core, no ORM.

Statements are built once at import time; a lookup is one ``SELECT`` by primary key. Every
``update_*`` is one transaction: ``SELECT ... FOR UPDATE`` on PostgreSQL and MySQL, ``BEGIN
IMMEDIATE`` on SQLite (see ``engine.install_sqlite_hooks``), then ``fn(old)``, then ``UPDATE``;
so concurrent updaters, threads or processes, queue on the row lock and never lose a write.

Fork safety: an engine created before gunicorn forks is fine; the first call in a new process
gives that process a fresh pool (``dispose_after_fork``), so connections are never shared.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from dex_py.storage import models as m
from dex_py.storage.base import (
    AlreadyExistsError,
    AuthCode,
    AuthRequest,
    Client,
    Connector,
    GCResult,
    Keys,
    NotFoundError,
    Password,
    RefreshToken,
    StorageError,
    Updater,
)
from dex_py.storage.codec import RowCodec
from dex_py.storage.engine import SQLITE_LOCK_OPTION, describe_url, install_sqlite_hooks

log = logging.getLogger(__name__)

D = TypeVar("D")

# Lock conflicts worth retrying update_keys for: MySQL deadlock / lock wait timeout,
# PostgreSQL serialization failure / deadlock.
_RETRY_MYSQL_CODES = (1213, 1205)
_RETRY_PG_STATES = ("40001", "40P01")
_KEYS_ATTEMPTS = 5


class _Entity(Generic[D]):
    """One table, how its rows map to a dataclass, and its prepared statements."""

    def __init__(
        self,
        name: str,
        table: sa.Table,
        codec: RowCodec[D],
        key: str,
        *,
        derived: Callable[[D], dict[str, Any]] | None = None,
        normalize: Callable[[str], str] = str,
    ) -> None:
        self.name = name
        self.table = table
        self.codec = codec
        self.key = key  # the key field and column
        self.derived = derived  # extra columns computed from the object
        self.normalize = normalize  # key normalisation (passwords: lower-case)
        col = table.c[key]
        self.select_one = sa.select(table).where(col == sa.bindparam("b_key"))
        self.select_locked = self.select_one.with_for_update()
        self.update_one = table.update().where(col == sa.bindparam("b_key"))
        self.delete_one = table.delete().where(col == sa.bindparam("b_key"))
        self.insert = table.insert()

    def row(self, obj: D) -> dict[str, Any]:
        values = self.codec.encode(obj)
        if self.derived is not None:
            values.update(self.derived(obj))
        return values

    def key_of(self, obj: D) -> str:
        return str(getattr(obj, self.key))


_AUTH_REQUEST = _Entity("auth request", m.auth_request, RowCodec(AuthRequest), "id")
_AUTH_CODE = _Entity("auth code", m.auth_code, RowCodec(AuthCode), "id")
_REFRESH = _Entity(
    "refresh token",
    m.refresh_token,
    RowCodec(RefreshToken),
    "id",
    derived=lambda t: {"user_id": t.claims.user_id},
)
_PASSWORD = _Entity("password", m.password, RowCodec(Password), "email", normalize=str.lower)
_CLIENT = _Entity("client", m.client, RowCodec(Client), "id")
_CONNECTOR = _Entity("connector", m.connector, RowCodec(Connector), "id")

_KEYS_CODEC = RowCodec(Keys)
_KEYS_SELECT = sa.select(m.keys).where(m.keys.c.id == m.KEYS_ROW_ID)
_KEYS_SELECT_LOCKED = _KEYS_SELECT.with_for_update()
_KEYS_UPDATE = m.keys.update().where(m.keys.c.id == m.KEYS_ROW_ID)

_REVOKED_SELECT = sa.select(sa.literal(1)).where(
    m.revoked_access_token.c.jti == sa.bindparam("b_jti")
)


def _retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRY_PG_STATES:
        return True
    args: Any = getattr(orig, "args", None) or (None,)
    return args[0] in _RETRY_MYSQL_CODES


class SQLStorage:
    """``Storage`` over a SQLAlchemy engine (build one with ``storage.open_storage``)."""

    def __init__(self, engine: Engine) -> None:
        install_sqlite_hooks(engine)
        self._engine = engine
        # PostgreSQL reads run in autocommit: no BEGIN/ROLLBACK round trips around a SELECT.
        # (MySQL is faster without: pymysql would send SET autocommit at each checkout.)
        self._read_engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._pid = os.getpid()
        self._sqlite = engine.dialect.name == "sqlite"
        # One shared connection (SQLite :memory:) must be used by one thread at a time.
        self._serial: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else contextlib.nullcontext()
        )

    def __repr__(self) -> str:
        return f"SQLStorage({describe_url(self._engine.url)})"

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
        with self._serial, self._connect(self._read_engine) as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction that holds the write lock on SQLite from its first statement."""
        with self._serial, self._connect(self._engine) as conn:
            if self._sqlite:
                conn.execution_options(**{SQLITE_LOCK_OPTION: True})
            try:
                with conn.begin():
                    yield conn
            except sa.exc.StatementError as exc:
                # A value our column types refuse (a naive datetime): the caller's mistake.
                if isinstance(exc.orig, ValueError) and not isinstance(exc, DBAPIError):
                    raise exc.orig from None
                raise

    # generic CRUD

    def _create(self, ent: _Entity[D], obj: D) -> None:
        try:
            with self._write() as conn:
                conn.execute(ent.insert, ent.row(obj))
        except IntegrityError as exc:
            raise AlreadyExistsError(f"{ent.name} {ent.key_of(obj)!r} already exists") from exc

    def _get(self, ent: _Entity[D], key: str) -> D:
        key = ent.normalize(key)
        with self._read() as conn:
            row = conn.execute(ent.select_one, {"b_key": key}).mappings().first()
        if row is None:
            raise NotFoundError(f"{ent.name} {key!r} not found")
        return ent.codec.decode(row)

    def _update(self, ent: _Entity[D], key: str, fn: Updater[D]) -> D:
        key = ent.normalize(key)
        with self._write() as conn:
            row = conn.execute(ent.select_locked, {"b_key": key}).mappings().first()
            if row is None:
                raise NotFoundError(f"{ent.name} {key!r} not found")
            old = ent.codec.decode(row)
            new = fn(old)
            if new is old:
                return old
            if ent.normalize(ent.key_of(new)) != key:
                raise StorageError(f"updating {ent.name} {key!r} must not change its key")
            conn.execute(ent.update_one, {**ent.row(new), "b_key": key})
            return new

    def _delete(self, ent: _Entity[D], key: str) -> None:
        key = ent.normalize(key)
        with self._write() as conn:
            deleted = conn.execute(ent.delete_one, {"b_key": key}).rowcount
        if not deleted:
            raise NotFoundError(f"{ent.name} {key!r} not found")

    def _list(self, ent: _Entity[D], *where: sa.ColumnElement[bool]) -> list[D]:
        stmt = sa.select(ent.table).where(*where).order_by(ent.table.c[ent.key])
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [ent.codec.decode(row) for row in rows]

    # auth requests

    def create_auth_request(self, req: AuthRequest) -> None:
        self._create(_AUTH_REQUEST, req)

    def get_auth_request(self, id: str) -> AuthRequest:
        return self._get(_AUTH_REQUEST, id)

    def update_auth_request(self, id: str, fn: Updater[AuthRequest]) -> AuthRequest:
        return self._update(_AUTH_REQUEST, id, fn)

    def delete_auth_request(self, id: str) -> None:
        self._delete(_AUTH_REQUEST, id)

    # auth codes

    def create_auth_code(self, code: AuthCode) -> None:
        self._create(_AUTH_CODE, code)

    def get_auth_code(self, id: str) -> AuthCode:
        return self._get(_AUTH_CODE, id)

    def update_auth_code(self, id: str, fn: Updater[AuthCode]) -> AuthCode:
        return self._update(_AUTH_CODE, id, fn)

    def delete_auth_code(self, id: str) -> None:
        self._delete(_AUTH_CODE, id)

    # refresh tokens

    def create_refresh_token(self, token: RefreshToken) -> None:
        self._create(_REFRESH, token)

    def get_refresh_token(self, id: str) -> RefreshToken:
        return self._get(_REFRESH, id)

    def update_refresh_token(self, id: str, fn: Updater[RefreshToken]) -> RefreshToken:
        return self._update(_REFRESH, id, fn)

    def delete_refresh_token(self, id: str) -> None:
        self._delete(_REFRESH, id)

    def list_refresh_tokens(
        self, *, client_id: str | None = None, user_id: str | None = None
    ) -> list[RefreshToken]:
        where = []
        if client_id is not None:
            where.append(m.refresh_token.c.client_id == client_id)
        if user_id is not None:
            where.append(m.refresh_token.c.user_id == user_id)
        return self._list(_REFRESH, *where)

    # passwords

    def create_password(self, p: Password) -> None:
        self._create(_PASSWORD, replace(p, email=p.email.lower()))

    def get_password(self, email: str) -> Password:
        return self._get(_PASSWORD, email)

    def update_password(self, email: str, fn: Updater[Password]) -> Password:
        def lowered(old: Password) -> Password:
            new = fn(old)
            return new if new is old else replace(new, email=new.email.lower())

        return self._update(_PASSWORD, email, lowered)

    def delete_password(self, email: str) -> None:
        self._delete(_PASSWORD, email)

    def list_passwords(self) -> list[Password]:
        return self._list(_PASSWORD)

    # clients

    def create_client(self, c: Client) -> None:
        self._create(_CLIENT, c)

    def get_client(self, id: str) -> Client:
        return self._get(_CLIENT, id)

    def update_client(self, id: str, fn: Updater[Client]) -> Client:
        return self._update(_CLIENT, id, fn)

    def delete_client(self, id: str) -> None:
        self._delete(_CLIENT, id)

    def list_clients(self) -> list[Client]:
        return self._list(_CLIENT)

    # connectors

    def create_connector(self, c: Connector) -> None:
        self._create(_CONNECTOR, c)

    def get_connector(self, id: str) -> Connector:
        return self._get(_CONNECTOR, id)

    def update_connector(self, id: str, fn: Updater[Connector]) -> Connector:
        return self._update(_CONNECTOR, id, fn)

    def delete_connector(self, id: str) -> None:
        self._delete(_CONNECTOR, id)

    def list_connectors(self) -> list[Connector]:
        return self._list(_CONNECTOR)

    # signing keys

    def get_keys(self) -> Keys:
        with self._read() as conn:
            row = conn.execute(_KEYS_SELECT).mappings().first()
        if row is None:
            raise NotFoundError("signing keys not created yet")
        return _KEYS_CODEC.decode(row)

    def update_keys(self, fn: Callable[[Keys | None], Keys]) -> Keys:
        """Compare-and-swap the key set. When two processes create the first row at once, the
        loser's insert fails (or deadlocks, on MySQL); it retries and ``fn`` sees the winner's
        keys. ``fn`` may therefore run more than once; it must have no side effects."""
        for attempt in range(1, _KEYS_ATTEMPTS + 1):
            try:
                return self._update_keys_once(fn)
            except DBAPIError as exc:
                creation_race = isinstance(exc, IntegrityError)
                if attempt == _KEYS_ATTEMPTS or not (creation_race or _retryable(exc)):
                    raise
                log.info("signing keys changed concurrently; retrying (attempt %d)", attempt)
        raise AssertionError("unreachable")

    def _update_keys_once(self, fn: Callable[[Keys | None], Keys]) -> Keys:
        with self._write() as conn:
            row = conn.execute(_KEYS_SELECT_LOCKED).mappings().first()
            old = None if row is None else _KEYS_CODEC.decode(row)
            new = fn(old)
            if new is old:
                return new
            values = {**_KEYS_CODEC.encode(new), "id": m.KEYS_ROW_ID}
            conn.execute(m.keys.insert() if row is None else _KEYS_UPDATE, values)
            return new

    # revoked access tokens

    def revoke_access_token(self, jti: str, expiry: datetime) -> None:
        try:
            with self._write() as conn:
                conn.execute(m.revoked_access_token.insert(), {"jti": jti, "expiry": expiry})
        except IntegrityError:
            log.debug("access token %s was already revoked", jti)

    def is_access_token_revoked(self, jti: str) -> bool:
        with self._read() as conn:
            return conn.execute(_REVOKED_SELECT, {"b_jti": jti}).first() is not None

    # housekeeping

    def garbage_collect(self, now: datetime) -> GCResult:
        ar, ac, rt, rv = m.auth_request, m.auth_code, m.refresh_token, m.revoked_access_token
        with self._write() as conn:
            return GCResult(
                auth_requests=conn.execute(ar.delete().where(ar.c.expiry < now)).rowcount,
                auth_codes=conn.execute(ac.delete().where(ac.c.expiry < now)).rowcount,
                refresh_tokens=conn.execute(
                    rt.delete().where(rt.c.expiry.is_not(None), rt.c.expiry < now)
                ).rowcount,
                revoked_tokens=conn.execute(rv.delete().where(rv.c.expiry < now)).rowcount,
            )

    def ping(self) -> None:
        try:
            with self._read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            reason = type(exc.__cause__ or exc).__name__
            raise StorageError(f"{describe_url(self._engine.url)} unreachable: {reason}") from exc

    def close(self) -> None:
        self._engine.dispose()
