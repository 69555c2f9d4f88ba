"""``/audit``: the audit log in storage, through ``dex_py.management.audit``: pages filtered by
``actor``, ``action``, ``event``, ``object``, ``since`` and ``until``, newest first, and an
export as JSON lines (oldest first; the lines ``dex-py audit export`` prints)."""

from __future__ import annotations

from werkzeug import Response

from dex_py.admin_api.convert import to_json
from dex_py.admin_api.problems import invalid
from dex_py.admin_api.rest import limit, page_response, query_text, query_time
from dex_py.management import audit as ma
from dex_py.services import services

JSON_LINES = "application/jsonl"
EXPORT_DEFAULT = 10000
EXPORT_MAX = 100000


def query_view() -> Response:
    size = limit()
    page = ma.query(
        services(),
        actor=query_text("actor"),
        action=query_text("action"),
        event=query_text("event"),
        object=query_text("object"),
        since=query_time("since"),
        until=query_time("until"),
        limit=size,
        cursor=query_text("cursor", max_length=512),
    )
    return page_response([to_json(v) for v in page.items], page.next_cursor, size)


def _export_limit() -> int:
    raw = query_text("limit", max_length=8)
    if not raw:
        return EXPORT_DEFAULT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= EXPORT_MAX:
        raise invalid([("limit", f"must be an integer from 1 to {EXPORT_MAX}")])
    return int(raw)


def export_view() -> Response:
    svc = services()
    records = svc.storage.list_audit_records(
        since=query_time("since"),
        until=query_time("until"),
        event=query_text("event"),
        actor=query_text("actor"),
        limit=_export_limit(),
    )
    body = "".join(line + "\n" for line in ma.export_lines(records))
    resp = Response(body, mimetype=JSON_LINES)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Disposition"] = 'attachment; filename="audit.jsonl"'
    return resp
