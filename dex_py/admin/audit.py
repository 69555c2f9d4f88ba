"""``/admin/audit``: the audit log in storage, newest first, filtered by event, actor, object
and time, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request, url_for
from werkzeug import Response

from dex_py.admin.render import render_admin
from dex_py.services import services

SECTION = "admin.audit"
PAGE = 50


def _time(text: str) -> datetime | None:
    """An ISO 8601 time from a filter field (UTC when it names no zone), else ``None``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_view() -> Response:
    svc = services()
    args = {
        k: request.args.get(k, "").strip()[:200]
        for k in ("event", "actor", "object", "since", "until")
    }
    errors: dict[str, list[str]] = {}
    since = _time(args["since"]) if args["since"] else None
    until = _time(args["until"]) if args["until"] else None
    for key, value in (("since", since), ("until", until)):
        if args[key] and value is None:
            errors[key] = ["Use a time like 2026-12-04T17:30 (UTC)."]
    records = []
    if not errors:
        records = svc.storage.list_audit_records(
            since=since, until=until, event=args["event"], actor=args["actor"], limit=PAGE
        )
    next_url = None
    if len(records) == PAGE:
        older: dict[str, Any] = {k: v for k, v in args.items() if v and k != "until"}
        older["until"] = records[-1].time.isoformat()
        next_url = url_for(SECTION, **older)
    if args["object"]:
        records = [r for r in records if args["object"] in r.object]
    return render_admin(
        "admin/audit.html",
        section=SECTION,
        status=400 if errors else 200,
        args=args,
        errors=errors,
        records=records,
        next_url=next_url,
    )
