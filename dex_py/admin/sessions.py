"""``/admin/sessions``: single sign-on sessions and refresh tokens, per user or per client;
revoke one, or everything of a user (their applications are told through back-channel
logout), each through ``dex_py.management.sessions``."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from werkzeug import Response

from dex_py.admin import forms
from dex_py.admin.access import current_admin
from dex_py.admin.render import confirmed, render_admin
from dex_py.management import sessions as ops
from dex_py.services import services

SECTION = "admin.sessions"


def _filters() -> dict[str, str]:
    return {k: request.args.get(k, "").strip()[:256] for k in ("user", "connector", "client")}


def list_view() -> Response:
    svc = services()
    f = _filters()
    scope = {
        "user_id": f["user"] or None,
        "connector_id": f["connector"] or None,
        "client_id": f["client"] or None,
    }
    return render_admin(
        "admin/sessions.html",
        section=SECTION,
        filters=f,
        sessions=ops.list_sessions(svc, **scope),
        tokens=ops.list_refresh_tokens(svc, **scope),
        notice=forms.notice(),
    )


def _back(**params: str) -> str:
    query: dict[str, Any] = {k: v for k, v in params.items() if v}
    return url_for(SECTION, **query)


def _revoked(**query: str) -> Response:
    return redirect(_back(**query, done="revoked"), code=303)


def revoke_session_view(session_id: str) -> Response:
    def revoke() -> Response:
        ops.revoke_session(services(), current_admin().actor, session_id)
        return _revoked(**_filters())

    return confirmed(
        revoke,
        section=SECTION,
        title="End this session?",
        message="The browser is logged out, and the applications that got tokens in the "
        "session are told through back-channel logout.",
        button="End the session",
        cancel_url=_back(**_filters()),
    )


def revoke_token_view(token_id: str) -> Response:
    def revoke() -> Response:
        ops.revoke_refresh_token(services(), current_admin().actor, token_id)
        return _revoked(**_filters())

    return confirmed(
        revoke,
        section=SECTION,
        title="Revoke this refresh token?",
        message="The application can no longer refresh with it, and the access tokens "
        "issued under it are revoked.",
        button="Revoke the token",
        cancel_url=_back(**_filters()),
    )


def revoke_user_view() -> Response:
    f = _filters()
    if not f["user"]:
        abort(404)

    def revoke() -> Response:
        ops.revoke_user(services(), current_admin().actor, f["user"], f["connector"])
        return _revoked(user=f["user"], connector=f["connector"])

    return confirmed(
        revoke,
        section=SECTION,
        title="Revoke everything of this user?",
        message="Every refresh token and session of the user ends; their applications "
        "are told through back-channel logout. They can log in again.",
        button="Revoke all",
        cancel_url=_back(**f),
        details={"User id": f["user"], "Connector": f["connector"] or "(any)"},
    )
