"""``/admin``: the overview: health, version, connectors' state, signing key ages, how many
objects there are, and the last day's logins and failures as charts."""

from __future__ import annotations

from datetime import datetime, timedelta

from werkzeug import Response

from dex_py.admin.charts import Bucket, stacked_bars
from dex_py.admin.render import render_admin
from dex_py.jose.keys import key_infos
from dex_py.services import Services, services
from dex_py.storage.base import AuditRecord, NotFoundError, StorageError

HOURS = 24
FAILURE_EVENTS = ("login", "refresh_reuse", "code_replay", "revocation")


def _probe(fn: object) -> str:
    try:
        fn()  # type: ignore[operator]
    except Exception:  # a health probe reports, it never fails the page
        return "unavailable"
    return "ok"


def hourly(records: list[AuditRecord], now: datetime, hours: int = HOURS) -> list[Bucket]:
    """Per-hour successes and failures of ``records`` over the last ``hours`` (oldest first)."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    ok = [0] * hours
    bad = [0] * hours
    for r in records:
        index = int((r.time - start).total_seconds() // 3600)
        if 0 <= index < hours:
            (ok if r.outcome == "success" else bad)[index] += 1
    return [
        Bucket((start + timedelta(hours=i)).strftime("%H:00"), ok[i], bad[i]) for i in range(hours)
    ]


def _counts(svc: Services) -> dict[str, int]:
    storage = svc.storage
    return {
        "Clients": len(storage.list_clients()),
        "Connectors": len(storage.list_connectors()),
        "Users": len(storage.list_passwords()),
        "Sessions": len(storage.list_sessions()),
        "Refresh tokens": len(storage.list_refresh_tokens()),
    }


def overview_view() -> Response:
    svc = services()
    now = svc.clock.now()
    manager = svc.connectors
    connectors = [
        {
            "id": e.id,
            "name": e.name,
            "type": e.type,
            "healthy": manager.healthy(e),
            "error": e.error,
        }
        for e in manager.all()
    ]
    try:
        keys = key_infos(svc.storage.get_keys(), now)
    except (NotFoundError, StorageError):
        keys = []
    since = now - timedelta(hours=HOURS)
    logins = svc.storage.list_audit_records(since=since, event="login", limit=10000)
    failures = [
        r
        for event in FAILURE_EVENTS
        for r in svc.storage.list_audit_records(since=since, event=event, limit=200)
        if r.outcome != "success"
    ]
    failures.sort(key=lambda r: r.time, reverse=True)
    return render_admin(
        "admin/overview.html",
        section="admin.overview",
        health={"Storage": _probe(svc.storage.ping), "Signing key": _probe(svc.keys.signer)},
        connectors=connectors,
        keys=keys,
        now=now,
        counts=_counts(svc),
        login_chart=stacked_bars(hourly(logins, now), title="Logins in the last 24 hours"),
        logins_ok=sum(1 for r in logins if r.outcome == "success"),
        logins_bad=sum(1 for r in logins if r.outcome != "success"),
        recent_failures=failures[:8],
    )
