"""The audit log kept in storage (``dex_py.ops.audit``), read back for an operator: filtered
pages, newest first, and JSON lines for export (``dex-py audit export`` writes the same lines).

Pages are ordered by time and record id (the storage's order), and the cursor names the last
record shown, so records added meanwhile never shift a page: the next page starts strictly
after that record. The cursor is opaque to callers (base64url of time and id). ``event`` and
``actor`` are filtered by the storage; ``action`` and ``object`` are filtered here, reading the
storage in batches until the page is full.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dex_py.management.errors import Invalid
from dex_py.services import Services
from dex_py.storage.base import AuditRecord, Storage

__all__ = ["AuditPage", "AuditView", "export_lines", "query", "record_json"]

MAX_LIMIT = 500
_BATCH = 200
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class AuditView:
    """One audit record; ``details`` is its JSON object decoded (never holds a secret)."""

    id: str
    time: datetime
    event: str
    outcome: str
    actor: str
    action: str
    object: str
    client: str
    connector: str
    ip: str
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    """``items`` newest first; ``next_cursor`` fetches the following page ("" at the end)."""

    items: tuple[AuditView, ...]
    next_cursor: str


def _details(record: AuditRecord) -> dict[str, Any]:
    try:
        value = json.loads(record.details or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _view(record: AuditRecord) -> AuditView:
    details = _details(record)
    return AuditView(
        id=record.id,
        time=record.time,
        event=record.event,
        outcome=record.outcome,
        actor=record.actor,
        action=str(details.get("action", "")),
        object=record.object,
        client=record.client,
        connector=record.connector,
        ip=record.ip,
        details=details,
    )


def record_json(record: AuditRecord) -> dict[str, Any]:
    """One record as an export line's object (times in UTC with ``Z``)."""
    return {
        "id": record.id,
        "time": record.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "event": record.event,
        "outcome": record.outcome,
        "actor": record.actor,
        "object": record.object,
        "client": record.client,
        "connector": record.connector,
        "ip": record.ip,
        "details": _details(record),
    }


def export_lines(records: list[AuditRecord]) -> Iterator[str]:
    """``records`` (newest first, as storage lists them) as JSON lines, oldest first."""
    for record in reversed(records):
        yield json.dumps(record_json(record), sort_keys=True, ensure_ascii=False)


def _encode_cursor(record: AuditRecord) -> str:
    raw = f"{record.time.astimezone(UTC).isoformat()}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, record_id = raw.partition("|")
        when = datetime.fromisoformat(moment)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid([("cursor", "not a cursor of a previous page")]) from None
    if when.tzinfo is None or not record_id:
        raise Invalid([("cursor", "not a cursor of a previous page")])
    return when, record_id


def _matches(view: AuditView, action: str, obj: str) -> bool:
    """``action``: exact, or a prefix ending in ``.`` (``client.``); ``object``: exact, or a
    type without ``:`` (``client`` matches ``client:web``)."""
    if action and not (
        view.action == action or (action.endswith(".") and view.action.startswith(action))
    ):
        return False
    if obj and ":" not in obj:
        return view.object.split(":", 1)[0] == obj
    return not obj or view.object == obj


def _scan(
    storage: Storage,
    after: tuple[datetime, str] | None,
    since: datetime | None,
    until: datetime | None,
    event: str,
    actor: str,
) -> Iterator[AuditRecord]:
    """Records newest first, strictly after ``after`` in (time, id) order."""
    batch = _BATCH
    while True:
        high = until
        if after is not None:
            bound = after[0] + _ONE_US  # time <= after's time; ids filtered below
            high = bound if high is None else min(high, bound)
        rows = storage.list_audit_records(
            since=since, until=high, event=event, actor=actor, limit=batch
        )
        fresh = [r for r in rows if after is None or (r.time, r.id) < after]
        yield from fresh
        if len(rows) < batch:
            return
        if fresh:
            after = (fresh[-1].time, fresh[-1].id)
        else:  # a full batch of one instant, all seen: read more of it at once
            batch *= 2


def query(
    svc: Services,
    *,
    actor: str = "",
    action: str = "",
    event: str = "",
    object: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str = "",
) -> AuditPage:
    """One page of audit records matching every filter given, newest first: ``since``
    inclusive, ``until`` exclusive, ``limit`` 1 to ``MAX_LIMIT``; ``cursor`` from the previous
    page's ``next_cursor``."""
    problems: list[tuple[str, str]] = []
    if not 1 <= limit <= MAX_LIMIT:
        problems.append(("limit", f"must be between 1 and {MAX_LIMIT}"))
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            problems.append((name, "needs a time zone"))
    after = _decode_cursor(cursor) if cursor else None
    if problems:
        raise Invalid(problems)
    items: list[AuditView] = []
    last: AuditRecord | None = None
    for record in _scan(svc.storage, after, since, until, event, actor):
        view = _view(record)
        if not _matches(view, action, object):
            continue
        if len(items) == limit and last is not None:  # one more exists: the page is full
            return AuditPage(tuple(items), _encode_cursor(last))
        items.append(view)
        last = record
    return AuditPage(tuple(items), "")
