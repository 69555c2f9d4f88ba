"""``/admin/sessions``: single sign-on sessions and refresh tokens, per user or per client."""

from __future__ import annotations

from flask import request
from werkzeug import Response

from dex_py.admin.render import render_admin
from dex_py.services import services

SECTION = "admin.sessions"


def list_view() -> Response:
    svc = services()
    user = request.args.get("user", "").strip()[:256]
    client = request.args.get("client", "").strip()[:256]
    sessions = [] if client else svc.storage.list_sessions(user_id=user or None)
    tokens = svc.storage.list_refresh_tokens(client_id=client or None, user_id=user or None)
    sessions.sort(key=lambda s: s.last_active, reverse=True)
    tokens.sort(key=lambda t: t.last_used, reverse=True)
    return render_admin(
        "admin/sessions.html",
        section=SECTION,
        user=user,
        client=client,
        sessions=sessions,
        tokens=tokens,
        now=svc.clock.now(),
    )
