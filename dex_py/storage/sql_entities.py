"""The SQL backend's per-table plumbing: how each table maps to its ``storage.base`` dataclass,
and the statements ``storage.sql`` and ``storage.sql_transactions`` run, built once at import
time.

An ``Entity`` bundles a table, its ``RowCodec``, the key column, columns derived from the
object (``user_id`` copied out of ``claims``, so lists can filter on it) and the prepared
select/lock/update/delete statements of one row. Statements that do not fit the generic
by-key CRUD (the single signing-keys row, revoked-token lookups, the logout delivery queue,
garbage collection's batches) live here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from dex_py.storage import models as m
from dex_py.storage.base import (
    AuditRecord,
    AuthCode,
    AuthRequest,
    Client,
    Connector,
    DeviceRequest,
    Keys,
    LogoutEvent,
    MFAState,
    Password,
    RefreshToken,
    Session,
)
from dex_py.storage.codec import RowCodec

D = TypeVar("D")


class Entity(Generic[D]):
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
        order_by: tuple[sa.ColumnElement[Any], ...] = (),
    ) -> None:
        self.name = name
        self.table = table
        self.codec = codec
        self.key = key  # the key field and column
        self.derived = derived  # extra columns computed from the object
        self.normalize = normalize  # key normalisation (passwords: lower-case)
        col = table.c[key]
        self.order_by = order_by or (col,)  # list order; the key by default
        self.select_one = sa.select(table).where(col == sa.bindparam("b_key"))
        self.select_locked = self.select_one.with_for_update()
        self.update_one = table.update().where(col == sa.bindparam("b_key"))
        self.delete_one = table.delete().where(col == sa.bindparam("b_key"))
        self.insert = table.insert()
        self._swaps: dict[tuple[tuple[str, ...], tuple[bool, ...]], sa.Update] = {}

    def swap_statement(self, changed: tuple[str, ...], was_null: tuple[bool, ...]) -> sa.Update:
        """``UPDATE`` of the ``changed`` columns (``new_<column>``) where the key is ``b_key``
        and each of them still holds its old value (``old_<column>``, or NULL where
        ``was_null``), returning the row. Built once per shape: a refresh token's rotation
        always has the same."""
        shape = (changed, was_null)
        stmt = self._swaps.get(shape)
        if stmt is None:
            cols = self.table.c
            stmt = (
                self.table.update()
                .where(
                    cols[self.key] == sa.bindparam("b_key"),
                    *(
                        cols[c].is_(None) if null else cols[c] == sa.bindparam("old_" + c)
                        for c, null in zip(changed, was_null, strict=True)
                    ),
                )
                .values({c: sa.bindparam("new_" + c) for c in changed})
                .returning(*self.table.c)
            )
            if len(self._swaps) < 64:
                self._swaps[shape] = stmt
        return stmt

    def row(self, obj: D) -> dict[str, Any]:
        values = self.codec.encode(obj)
        if self.derived is not None:
            values.update(self.derived(obj))
        return values

    def key_of(self, obj: D) -> str:
        return str(getattr(obj, self.key))


AUTH_REQUEST = Entity("auth request", m.auth_request, RowCodec(AuthRequest), "id")
AUTH_CODE = Entity("auth code", m.auth_code, RowCodec(AuthCode), "id")
REFRESH = Entity(
    "refresh token",
    m.refresh_token,
    RowCodec(RefreshToken),
    "id",
    derived=lambda t: {"user_id": t.claims.user_id},
)
PASSWORD = Entity("password", m.password, RowCodec(Password), "email", normalize=str.lower)
CLIENT = Entity("client", m.client, RowCodec(Client), "id")
CONNECTOR = Entity("connector", m.connector, RowCodec(Connector), "id")
SESSION = Entity(
    "session",
    m.session,
    RowCodec(Session),
    "id",
    derived=lambda s: {"user_id": s.claims.user_id},
)
MFA_STATE = Entity("MFA state", m.mfa_state, RowCodec(MFAState), "id")
DEVICE_REQUEST = Entity("device request", m.device_request, RowCodec(DeviceRequest), "id")
DEVICE_BY_USER_CODE = sa.select(m.device_request).where(
    m.device_request.c.user_code == sa.bindparam("b_code")
)
_ac = m.attempt_counter.c
ATTEMPT_SELECT = sa.select(_ac.count, _ac.expiry).where(_ac.id == sa.bindparam("b_key"))
ATTEMPT_LOCKED = ATTEMPT_SELECT.with_for_update()
ATTEMPT_UPDATE = m.attempt_counter.update().where(_ac.id == sa.bindparam("b_key"))
LIKE_ESCAPE = "!"
ATTEMPT_RESET = m.attempt_counter.delete().where(
    _ac.id.like(sa.bindparam("b_prefix"), escape=LIKE_ESCAPE)
)


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (``%``, ``_`` and the escape escaped)."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


_le = m.logout_event.c
LOGOUT_EVENT = Entity(
    "logout event",
    m.logout_event,
    RowCodec(LogoutEvent),
    "id",
    # Soonest due first; finished events (no next attempt) last, oldest first. ``IS NULL``
    # first, because databases disagree on where NULLs sort.
    order_by=(_le.next_attempt.is_(None), _le.next_attempt, _le.created_at, _le.id),
)


def logout_event_filters(
    status: str | None, due_before: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses of ``list_logout_events``: ``due_before`` selects pending events whose
    next attempt is at or before it."""
    where: list[sa.ColumnElement[bool]] = []
    if status is not None:
        where.append(_le.status == status)
    if due_before is not None:
        where += [_le.status == "pending", _le.next_attempt <= due_before]
    return where


KEYS_CODEC = RowCodec(Keys)
KEYS_SELECT = sa.select(m.keys).where(m.keys.c.id == m.KEYS_ROW_ID)
KEYS_SELECT_LOCKED = KEYS_SELECT.with_for_update()
KEYS_UPDATE = m.keys.update().where(m.keys.c.id == m.KEYS_ROW_ID)

# A token is revoked if its jti or its grant's marker is recorded (one indexed lookup).
REVOKED_SELECT = sa.select(sa.literal(1)).where(
    m.revoked_access_token.c.jti.in_([sa.bindparam("b_jti"), sa.bindparam("b_grant")])
)
# Any of up to three keys recorded (a token's jti and its grant and session markers). Fixed
# parameters, not an expanding list, so the compiled statement is cached whole.
REVOKED_ANY_KEYS = 3
REVOKED_ANY_SELECT = sa.select(sa.literal(1)).where(
    m.revoked_access_token.c.jti.in_([sa.bindparam(f"b_k{i}") for i in range(REVOKED_ANY_KEYS)])
)


# Garbage collection, one batch at a time: the keys of at most ``limit`` expired rows, oldest
# first through the expiry index, then a DELETE of those keys (MySQL cannot take LIMIT in an
# ``IN`` subquery). The DELETE checks the expiry again: a row extended in between stays.
GC_TABLES: tuple[tuple[str, sa.Table, str], ...] = (
    ("auth_requests", m.auth_request, "id"),
    ("auth_codes", m.auth_code, "id"),
    ("refresh_tokens", m.refresh_token, "id"),
    ("revoked_tokens", m.revoked_access_token, "jti"),
    ("sessions", m.session, "id"),
    ("device_requests", m.device_request, "id"),
    ("attempt_counters", m.attempt_counter, "id"),
)


def _expired(table: sa.Table, now: datetime) -> list[sa.ColumnElement[bool]]:
    expiry = table.c.expiry
    # refresh tokens may have no expiry (NULL: never)
    return [expiry.is_not(None), expiry < now] if expiry.nullable else [expiry < now]


def expired_keys(table: sa.Table, key: str, now: datetime, limit: int) -> sa.Select[Any]:
    """The keys of at most ``limit`` rows of ``table`` expired before ``now``, oldest first."""
    return (
        sa.select(table.c[key]).where(*_expired(table, now)).order_by(table.c.expiry).limit(limit)
    )


def delete_expired(table: sa.Table, key: str, keys: list[str], now: datetime) -> sa.Delete:
    """Delete the rows of ``keys`` that are still expired before ``now``."""
    return table.delete().where(table.c[key].in_(keys), *_expired(table, now))


_ar = m.audit_record.c
AUDIT_RECORD = Entity(
    "audit record",
    m.audit_record,
    RowCodec(AuditRecord),
    "id",
    order_by=(_ar.time.desc(), _ar.id.desc()),
)


def audit_record_filters(
    since: datetime | None, until: datetime | None, event: str, actor: str
) -> list[sa.ColumnElement[bool]]:
    """``Storage.list_audit_records``'s filters as SQL; an actor is compared in full (the
    column is text: no index, the time bound keeps the scan short)."""
    where: list[sa.ColumnElement[bool]] = []
    if since is not None:
        where.append(_ar.time >= since)
    if until is not None:
        where.append(_ar.time < until)
    if event:
        where.append(_ar.event == event)
    if actor:
        where.append(_ar.actor == actor)
    return where
