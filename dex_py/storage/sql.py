"""SQL storage (SQLite, PostgreSQL, MySQL/MariaDB) with SQLAlchemy Core, no ORM.

``SQLStorage`` is the ``Storage`` protocol over ``storage.sql_transactions`` (connections,
transactions, fork safety, generic CRUD). Statements are built once at import time
(``storage.sql_entities``); a lookup is one ``SELECT`` by primary key. Every ``update_*`` is one
transaction: ``SELECT ... FOR UPDATE`` on PostgreSQL and MySQL, ``BEGIN IMMEDIATE`` on SQLite
(see ``engine.install_sqlite_hooks``), then ``fn(old)``, then ``UPDATE``; so concurrent
updaters, threads or processes, queue on the row lock and never lose a write.

Garbage collection deletes in batches of ``gc_batch_size`` rows, each batch its own short
transaction, so a backlog of a million expired tokens never holds locks (or SQLite's write
lock) for longer than one batch takes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from dex_py.storage import models as m
from dex_py.storage.base import (
    AuditRecord,
    AuthCode,
    AuthRequest,
    Client,
    Connector,
    GCResult,
    Issuer,
    Keys,
    LogoutEvent,
    MFAState,
    NotFoundError,
    Password,
    RefreshToken,
    Session,
    StorageError,
    Updater,
    grant_marker,
)
from dex_py.storage.engine import describe_url
from dex_py.storage.sql_device_flow import SQLDeviceFlow
from dex_py.storage.sql_entities import (
    AUDIT_RECORD,
    AUTH_CODE,
    AUTH_REQUEST,
    CLIENT,
    CONNECTOR,
    GC_TABLES,
    KEYS_CODEC,
    KEYS_SELECT,
    KEYS_SELECT_LOCKED,
    KEYS_UPDATE,
    LOGOUT_EVENT,
    MFA_STATE,
    PASSWORD,
    REFRESH,
    REVOKED_ANY_KEYS,
    REVOKED_ANY_SELECT,
    REVOKED_SELECT,
    SESSION,
    audit_record_filters,
    delete_expired,
    expired_keys,
    logout_event_filters,
)
from dex_py.storage.sql_runtime import SQLRuntimeObjects
from dex_py.storage.sql_transactions import retryable

log = logging.getLogger(__name__)

_KEYS_ATTEMPTS = 5
GC_BATCH_SIZE = 1000  # rows per garbage collection transaction
GC_BATCH_PAUSE = 0.002  # seconds between two batches: other writers get the lock (SQLite)


class SQLStorage(SQLDeviceFlow, SQLRuntimeObjects):
    """``Storage`` over a SQLAlchemy engine (build one with ``storage.open_storage``)."""

    gc_batch_size: int = GC_BATCH_SIZE
    gc_batch_pause: float = GC_BATCH_PAUSE

    def __repr__(self) -> str:
        return f"SQLStorage({describe_url(self._engine.url)})"

    # auth requests

    def create_auth_request(self, req: AuthRequest) -> None:
        self._create(AUTH_REQUEST, req)

    def get_auth_request(self, id: str) -> AuthRequest:
        return self._get(AUTH_REQUEST, id)

    def update_auth_request(self, id: str, fn: Updater[AuthRequest]) -> AuthRequest:
        return self._update(AUTH_REQUEST, id, fn)

    def delete_auth_request(self, id: str) -> None:
        self._delete(AUTH_REQUEST, id)

    # auth codes

    def create_auth_code(self, code: AuthCode) -> None:
        self._create(AUTH_CODE, code)

    def get_auth_code(self, id: str) -> AuthCode:
        return self._get(AUTH_CODE, id)

    def update_auth_code(self, id: str, fn: Updater[AuthCode]) -> AuthCode:
        return self._update(AUTH_CODE, id, fn)

    def redeem_auth_code(self, id: str, fn: Updater[AuthCode], issue: Issuer[AuthCode]) -> AuthCode:
        return self._redeem(AUTH_CODE, id, fn, issue)

    def delete_auth_code(self, id: str) -> None:
        self._delete(AUTH_CODE, id)

    # refresh tokens

    def create_refresh_token(self, token: RefreshToken) -> None:
        self._create(REFRESH, token)

    def get_refresh_token(self, id: str) -> RefreshToken:
        return self._get(REFRESH, id)

    def update_refresh_token(self, id: str, fn: Updater[RefreshToken]) -> RefreshToken:
        return self._update_optimistic(REFRESH, id, fn)

    def delete_refresh_token(self, id: str) -> None:
        self._delete(REFRESH, id)

    def list_refresh_tokens(
        self, *, client_id: str | None = None, user_id: str | None = None
    ) -> list[RefreshToken]:
        where = []
        if client_id is not None:
            where.append(m.refresh_token.c.client_id == client_id)
        if user_id is not None:
            where.append(m.refresh_token.c.user_id == user_id)
        return self._list(REFRESH, *where)

    # passwords

    def create_password(self, p: Password) -> None:
        self._create(PASSWORD, replace(p, email=p.email.lower()))

    def get_password(self, email: str) -> Password:
        return self._get(PASSWORD, email)

    def update_password(self, email: str, fn: Updater[Password]) -> Password:
        def lowered(old: Password) -> Password:
            new = fn(old)
            return new if new is old else replace(new, email=new.email.lower())

        return self._update(PASSWORD, email, lowered)

    def delete_password(self, email: str) -> None:
        self._delete(PASSWORD, email)

    def list_passwords(self) -> list[Password]:
        return self._list(PASSWORD)

    # clients

    def create_client(self, c: Client) -> None:
        self._create(CLIENT, c)

    def get_client(self, id: str) -> Client:
        return self._get(CLIENT, id)

    def update_client(self, id: str, fn: Updater[Client]) -> Client:
        return self._update(CLIENT, id, fn)

    def delete_client(self, id: str) -> None:
        self._delete(CLIENT, id)

    def list_clients(self) -> list[Client]:
        return self._list(CLIENT)

    # connectors

    def create_connector(self, c: Connector) -> None:
        self._create(CONNECTOR, c)

    def get_connector(self, id: str) -> Connector:
        return self._get(CONNECTOR, id)

    def update_connector(self, id: str, fn: Updater[Connector]) -> Connector:
        return self._update(CONNECTOR, id, fn)

    def delete_connector(self, id: str) -> None:
        self._delete(CONNECTOR, id)

    def list_connectors(self) -> list[Connector]:
        return self._list(CONNECTOR)

    # browser sessions

    def create_session(self, s: Session) -> None:
        self._create(SESSION, s)

    def get_session(self, id: str) -> Session:
        return self._get(SESSION, id)

    def update_session(self, id: str, fn: Updater[Session]) -> Session:
        return self._update(SESSION, id, fn)

    def delete_session(self, id: str) -> None:
        self._delete(SESSION, id)

    def list_sessions(self, *, user_id: str | None = None) -> list[Session]:
        where = [] if user_id is None else [m.session.c.user_id == user_id]
        return self._list(SESSION, *where)

    # second factors

    def create_mfa_state(self, s: MFAState) -> None:
        self._create(MFA_STATE, s)

    def get_mfa_state(self, id: str) -> MFAState:
        return self._get(MFA_STATE, id)

    def update_mfa_state(self, id: str, fn: Updater[MFAState]) -> MFAState:
        return self._update(MFA_STATE, id, fn)

    def delete_mfa_state(self, id: str) -> None:
        self._delete(MFA_STATE, id)

    def list_mfa_states(self) -> list[MFAState]:
        return self._list(MFA_STATE)

    # the audit log (newest first; removed after audit.retention)

    def create_audit_record(self, r: AuditRecord) -> None:
        self._create(AUDIT_RECORD, r)

    def list_audit_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str = "",
        actor: str = "",
        limit: int = 100,
    ) -> list[AuditRecord]:
        stmt = (
            sa.select(AUDIT_RECORD.table)
            .where(*audit_record_filters(since, until, event, actor))
            .order_by(*AUDIT_RECORD.order_by)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [AUDIT_RECORD.codec.decode(row) for row in rows]

    def delete_audit_records(self, before: datetime) -> int:
        table = AUDIT_RECORD.table
        with self._write() as conn:
            return int(conn.execute(table.delete().where(table.c.time < before)).rowcount or 0)

    # back-channel logout events (never garbage collected)

    def create_logout_event(self, e: LogoutEvent) -> None:
        self._create(LOGOUT_EVENT, e)

    def get_logout_event(self, id: str) -> LogoutEvent:
        return self._get(LOGOUT_EVENT, id)

    def update_logout_event(self, id: str, fn: Updater[LogoutEvent]) -> LogoutEvent:
        return self._update(LOGOUT_EVENT, id, fn)

    def list_logout_events(
        self, *, status: str | None = None, due_before: datetime | None = None
    ) -> list[LogoutEvent]:
        return self._list(LOGOUT_EVENT, *logout_event_filters(status, due_before))

    # signing keys

    def get_keys(self) -> Keys:
        with self._read() as conn:
            row = conn.execute(KEYS_SELECT).mappings().first()
        if row is None:
            raise NotFoundError("signing keys not created yet")
        return KEYS_CODEC.decode(row)

    def update_keys(self, fn: Callable[[Keys | None], Keys]) -> Keys:
        """Compare-and-swap the key set. When two processes create the first row at once, the
        loser's insert fails (or deadlocks, on MySQL); it retries and ``fn`` sees the winner's
        keys. ``fn`` may therefore run more than once; it must have no side effects."""
        for attempt in range(1, _KEYS_ATTEMPTS + 1):
            try:
                return self._update_keys_once(fn)
            except DBAPIError as exc:
                creation_race = isinstance(exc, IntegrityError)
                if attempt == _KEYS_ATTEMPTS or not (creation_race or retryable(exc)):
                    raise
                log.info("signing keys changed concurrently; retrying (attempt %d)", attempt)
        raise AssertionError("unreachable")

    def _update_keys_once(self, fn: Callable[[Keys | None], Keys]) -> Keys:
        with self._write() as conn:
            row = conn.execute(KEYS_SELECT_LOCKED).mappings().first()
            old = None if row is None else KEYS_CODEC.decode(row)
            new = fn(old)
            if new is old:
                return new
            values = {**KEYS_CODEC.encode(new), "id": m.KEYS_ROW_ID}
            conn.execute(m.keys.insert() if row is None else KEYS_UPDATE, values)
            return new

    # revoked access tokens

    def revoke_access_token(self, jti: str, expiry: datetime) -> bool:
        try:
            with self._write() as conn:
                conn.execute(m.revoked_access_token.insert(), {"jti": jti, "expiry": expiry})
        except IntegrityError:
            log.debug("access token %s was already revoked", jti)
            return False
        return True

    def is_access_token_revoked(self, jti: str, grant_id: str = "") -> bool:
        grant = grant_marker(grant_id) if grant_id else jti
        with self._read() as conn:
            found = conn.execute(REVOKED_SELECT, {"b_jti": jti, "b_grant": grant}).first()
        return found is not None

    def any_revoked(self, keys: Sequence[str]) -> bool:
        if not keys:
            return False
        batches = [keys[i : i + REVOKED_ANY_KEYS] for i in range(0, len(keys), REVOKED_ANY_KEYS)]
        with self._read() as conn:
            for batch in batches:  # one, for a token's keys
                padded = [*batch, *[batch[0]] * (REVOKED_ANY_KEYS - len(batch))]
                params = {f"b_k{i}": key for i, key in enumerate(padded)}
                if conn.execute(REVOKED_ANY_SELECT, params).first() is not None:
                    return True
        return False

    # housekeeping

    def garbage_collect(self, now: datetime) -> GCResult:
        """Delete what expired before ``now``, table by table, ``gc_batch_size`` rows per
        transaction, until a batch comes back short. Without the statement timeout: a batch
        may have to wait for a row a request holds."""
        with self._unbounded_batches() as batch:
            removed = {
                name: self._collect_expired(batch, table, key, now)
                for name, table, key in GC_TABLES
            }
        return GCResult(**removed)

    def _collect_expired(
        self, batch: Callable[[], ContextManager[Connection]], table: sa.Table, key: str,
        now: datetime,
    ) -> int:  # fmt: skip
        removed = 0
        while True:
            with batch() as conn:
                select = expired_keys(table, key, now, self.gc_batch_size)
                keys = list(conn.execute(select).scalars())
                if keys:
                    removed += conn.execute(delete_expired(table, key, keys, now)).rowcount
            if len(keys) < self.gc_batch_size:
                return removed
            time.sleep(self.gc_batch_pause)

    def ping(self) -> None:
        try:
            with self._read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            reason = type(exc.__cause__ or exc).__name__
            raise StorageError(f"{describe_url(self._engine.url)} unreachable: {reason}") from exc

    def close(self) -> None:
        self._stop_listening()
        self._engine.dispose()
