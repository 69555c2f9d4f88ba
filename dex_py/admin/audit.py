"""``/admin/audit``: the audit log in storage, newest first, filtered by actor, action, event,
object and time, a page at a time (``dex_py.management.audit.query``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request, url_for
from werkzeug import Response

from dex_py.admin.render import field_errors, render_admin
from dex_py.management import audit as ops
from dex_py.management.errors import Invalid
from dex_py.services import services

SECTION = "admin.audit"
PAGE = 50
FILTERS = ("actor", "action", "event", "object", "since", "until")


def _time(text: str) -> datetime | None:
    """An ISO 8601 time from a filter field (UTC when it names no zone), else ``None``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_view() -> Response:
    svc = services()
    args = {k: request.args.get(k, "").strip()[:200] for k in FILTERS}
    cursor = request.args.get("cursor", "")[:512]
    problems: list[tuple[str, str]] = []
    times: dict[str, datetime | None] = {}
    for key in ("since", "until"):
        times[key] = _time(args[key]) if args[key] else None
        if args[key] and times[key] is None:
            problems.append((key, "Use a time like 2026-12-04T17:30 (UTC)."))
    page = None
    if not problems:
        try:
            page = ops.query(
                svc,
                actor=args["actor"],
                action=args["action"],
                event=args["event"],
                object=args["object"],
                since=times["since"],
                until=times["until"],
                limit=PAGE,
                cursor=cursor,
            )
        except Invalid as exc:
            problems = exc.errors
    filters: dict[str, Any] = {k: v for k, v in args.items() if v}
    next_url = None
    if page is not None and page.next_cursor:
        next_url = url_for(SECTION, cursor=page.next_cursor, **filters)
    return render_admin(
        "admin/audit.html",
        section=SECTION,
        status=400 if problems else 200,
        args=args,
        errors=field_errors(problems),
        records=page.items if page is not None else (),
        next_url=next_url,
        first_url=url_for(SECTION, **filters) if cursor else None,
    )
