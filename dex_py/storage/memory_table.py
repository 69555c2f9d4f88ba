"""The tables of the in-process storage (``storage.memory``): one dict per entity kind, its
create/get/update/delete with the semantics of the ``Storage`` protocol, and the UTC
normalisation every stored datetime goes through. The caller holds the storage's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from dex_py.storage.base import (
    AlreadyExistsError,
    AuditRecord,
    LogoutEvent,
    NotFoundError,
    RefreshToken,
    StorageError,
    Updater,
)

D = TypeVar("D")


class Table(Generic[D]):
    """A dict of one entity kind, keyed by ``key(obj)``; the caller holds the lock."""

    def __init__(self, name: str, key: Callable[[D], str]) -> None:
        self.name = name
        self.key = key
        self.rows: dict[str, D] = {}

    def create(self, obj: D) -> None:
        k = self.key(obj)
        if k in self.rows:
            raise AlreadyExistsError(f"{self.name} {k!r} already exists")
        self.rows[k] = utc(obj)

    def get(self, k: str) -> D:
        try:
            return self.rows[k]
        except KeyError:
            raise NotFoundError(f"{self.name} {k!r} not found") from None

    def update(self, k: str, fn: Updater[D]) -> D:
        old = self.get(k)
        new = fn(old)
        if new is old:
            return old
        if self.key(new) != k:
            raise StorageError(f"updating {self.name} {k!r} must not change its key")
        new = utc(new)
        self.rows[k] = new
        return new

    def delete(self, k: str) -> None:
        if self.rows.pop(k, None) is None:
            raise NotFoundError(f"{self.name} {k!r} not found")

    def list(self) -> list[D]:
        return [self.rows[k] for k in sorted(self.rows)]


def utc(value: Any) -> Any:
    """``value`` with every datetime inside (fields, nested dataclasses, tuples) in UTC, as the
    SQL backends return them; a naive datetime is refused there and here."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given to storage; use an aware UTC one")
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    if isinstance(value, tuple):
        return tuple(utc(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in fields(value):
            old = getattr(value, f.name)
            new = utc(old)
            if new is not old:
                changes[f.name] = new
        return replace(value, **changes) if changes else value
    return value


V = TypeVar("V")


def drop(rows: dict[str, V], expired: Callable[[V], bool]) -> int:
    gone = [k for k, v in rows.items() if expired(v)]
    for k in gone:
        del rows[k]
    return len(gone)


def redeem(
    table: Table[D],
    refresh: Table[RefreshToken],
    key: str,
    fn: Updater[D],
    issue: Callable[[D], RefreshToken | None],
) -> D:
    """``table.update(key, fn)`` and the creation in ``refresh`` of the token ``issue`` returns
    for the new value, both or neither (``Storage.redeem_auth_code``); the caller holds the
    lock."""
    new = fn(table.get(key))
    token = issue(new)
    if token is not None and token.id in refresh.rows:
        raise AlreadyExistsError(f"refresh token {token.id!r} already exists")
    new = table.update(key, lambda _: new)
    if token is not None:
        refresh.create(token)
    return new


def _logout_event_order(e: LogoutEvent) -> tuple[bool, datetime, datetime, str]:
    """As the SQL backends list them: soonest due first, finished events (no next attempt)
    last; then oldest first."""
    due = e.next_attempt
    return (due is None, due or e.created_at, e.created_at, e.id)


def select_logout_events(
    events: Iterable[LogoutEvent], status: str | None, due_before: datetime | None
) -> list[LogoutEvent]:
    """``Storage.list_logout_events`` over events held in full (memory and etcd storage)."""
    due = None if due_before is None else utc(due_before)
    chosen = [
        e
        for e in events
        if (status is None or e.status == status)
        and (
            due is None
            or (e.status == "pending" and e.next_attempt is not None and e.next_attempt <= due)
        )
    ]
    return sorted(chosen, key=_logout_event_order)


def select_audit_records(
    records: Iterable[AuditRecord],
    *,
    since: datetime | None,
    until: datetime | None,
    event: str,
    actor: str,
    limit: int,
) -> list[AuditRecord]:
    """``Storage.list_audit_records`` over records held in full (memory and etcd storage):
    newest first, at most ``limit``."""
    low = None if since is None else utc(since)
    high = None if until is None else utc(until)
    chosen = [
        r
        for r in records
        if (low is None or r.time >= low)
        and (high is None or r.time < high)
        and (not event or r.event == event)
        and (not actor or r.actor == actor)
    ]
    chosen.sort(key=lambda r: (r.time, r.id), reverse=True)
    return chosen[:limit]
