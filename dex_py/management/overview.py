"""The operator's overview: version, storage health, how many objects there are, the
connectors' state, the signing key's age and the last day's logins and failures per hour (from
the audit log), as plain numbers a page or an API answer draws as it likes.

Counting reads every client, user, session and refresh token once: fine for an admin page,
not for a hot path. The hourly series read at most ``MAX_RECORDS`` audit records per event
(newest first); beyond that ``truncated`` says the oldest hours are undercounted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import dex_py
from dex_py.management import keys as keys_
from dex_py.management.audit import AuditView, query
from dex_py.management.clients import is_static_client
from dex_py.management.errors import ManagementError
from dex_py.management.users import list_users
from dex_py.ops.audit import SUCCESS
from dex_py.services import Services
from dex_py.storage.base import AuditRecord

__all__ = ["Activity", "ConnectorState", "Counts", "Overview", "overview"]

HOURS = 24
MAX_RECORDS = 20000
# Security events whose failures the overview counts (a failed login, a reused refresh token,
# a replayed code); a failed revocation is a client's mistake, not an attack sign.
FAILURE_EVENTS = ("login", "refresh_reuse", "code_replay")


@dataclass(frozen=True)
class Counts:
    clients: int
    static_clients: int
    connectors: int
    users: int
    active_sessions: int
    refresh_tokens: int


@dataclass(frozen=True)
class ConnectorState:
    id: str
    name: str
    type: str
    static: bool  # from config.yaml
    healthy: bool  # opened, and its upstream answered its last check
    error: str  # why it could not be opened ("" when it was)


@dataclass(frozen=True)
class Activity:
    """Per hour, oldest first: ``hours[i]`` is the start of bucket ``i`` (the last bucket is
    the current hour). ``logins``: successful logins; ``failures``: failed logins, reused
    refresh tokens and replayed codes."""

    hours: tuple[datetime, ...]
    logins: tuple[int, ...]
    failures: tuple[int, ...]
    truncated: bool


@dataclass(frozen=True)
class Overview:
    version: str
    storage_ok: bool
    storage_error: str  # the failure's class name, never its text (it may hold a DSN)
    storage_latency_ms: float
    counts: Counts | None  # None when storage is unavailable
    connectors: tuple[ConnectorState, ...]
    keys: keys_.KeySet | None
    activity: Activity | None
    recent_failures: tuple[AuditView, ...]


def _storage_health(svc: Services) -> tuple[bool, str, float]:
    start = time.perf_counter()
    try:
        svc.storage.ping()
    except Exception as exc:  # a health probe reports, it never fails the page
        return False, type(exc).__name__, (time.perf_counter() - start) * 1000
    return True, "", (time.perf_counter() - start) * 1000


def counts(svc: Services) -> Counts:
    """How many clients, connectors, users, live sessions and live refresh tokens exist."""
    now = svc.clock.now()
    storage = svc.storage
    clients = storage.list_clients()
    return Counts(
        clients=len(clients),
        static_clients=sum(1 for c in clients if is_static_client(svc, c.id)),
        connectors=len(svc.connectors.all()),
        users=len(list_users(svc)),
        active_sessions=sum(1 for s in storage.list_sessions() if s.expiry > now),
        refresh_tokens=sum(
            1 for t in storage.list_refresh_tokens() if t.expiry is None or t.expiry > now
        ),
    )


def connector_states(svc: Services) -> tuple[ConnectorState, ...]:
    """Every running connector, in login-page order, with its health."""
    manager = svc.connectors
    return tuple(
        ConnectorState(e.id, e.name, e.type, e.static, manager.healthy(e), e.error)
        for e in manager.all()
    )


def _bucket(records: list[AuditRecord], start: datetime, hours: int) -> list[int]:
    out = [0] * hours
    for r in records:
        index = int((r.time - start) // timedelta(hours=1))
        if 0 <= index < hours:
            out[index] += 1
    return out


def activity(svc: Services, hours: int = HOURS) -> Activity:
    """Logins and failures per hour over the last ``hours`` hours, from the audit log."""
    now = svc.clock.now()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    ok: list[AuditRecord] = []
    bad: list[AuditRecord] = []
    truncated = False
    for event in FAILURE_EVENTS:
        found = svc.storage.list_audit_records(since=start, event=event, limit=MAX_RECORDS)
        truncated = truncated or len(found) == MAX_RECORDS
        for r in found:
            (ok if event == "login" and r.outcome == SUCCESS else bad).append(r)
    return Activity(
        hours=tuple(start + timedelta(hours=i) for i in range(hours)),
        logins=tuple(_bucket(ok, start, hours)),
        failures=tuple(_bucket(bad, start, hours)),
        truncated=truncated,
    )


def recent_failures(svc: Services, limit: int = 10) -> tuple[AuditView, ...]:
    """The last failed security events (logins, reuse, replay), newest first."""
    found: list[AuditView] = []
    for event in FAILURE_EVENTS:
        page = query(svc, event=event, limit=50)
        found += [v for v in page.items if v.outcome != SUCCESS]
    found.sort(key=lambda v: (v.time, v.id), reverse=True)
    return tuple(found[:limit])


def overview(svc: Services) -> Overview:
    """Everything the overview shows. A storage outage is reported, not raised: the counts,
    keys and activity are then ``None``."""
    ok, error, latency = _storage_health(svc)
    key_set: keys_.KeySet | None = None
    if ok:
        try:
            key_set = keys_.key_set(svc)
        except ManagementError:
            key_set = None
    return Overview(
        version=dex_py.__version__,
        storage_ok=ok,
        storage_error=error,
        storage_latency_ms=round(latency, 2),
        counts=counts(svc) if ok else None,
        connectors=connector_states(svc),
        keys=key_set,
        activity=activity(svc) if ok else None,
        recent_failures=recent_failures(svc) if ok else (),
    )
