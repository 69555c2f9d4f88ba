"""``/admin/connectors``: the connectors and whether each one works right now."""

from __future__ import annotations

from werkzeug import Response

from dex_py.admin.render import render_admin
from dex_py.services import services

SECTION = "admin.connectors"


def list_view() -> Response:
    svc = services()
    manager = svc.connectors
    static = {c.id for c in svc.config.connectors}
    rows = []
    for stored in sorted(svc.storage.list_connectors(), key=lambda c: c.id):
        entry = manager.get(stored.id)
        if entry is None:
            state, error = "not loaded", ""
        elif manager.healthy(entry):
            state, error = "ok", ""
        else:
            state, error = "unavailable", entry.error
        rows.append(
            {
                "connector": stored,
                "state": state,
                "error": error,
                "source": "config" if stored.id in static else "stored",
            }
        )
    return render_admin("admin/connectors.html", section=SECTION, rows=rows)
