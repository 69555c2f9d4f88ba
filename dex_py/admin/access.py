"""Who may use the console, checked on every request before any console view runs.

``check_access`` (the blueprint's ``before_request``), in order:

1. the login pages (``PUBLIC``) need nothing;
2. without a console session on a live SSO session (``console_session.current``) the browser
   is sent to log in (a POST is never carried out);
3. the ``admin`` policy (``admin.teams``, ``admin.emails`` with a verified email) is checked
   against the user's claims as storage has them *now* (``current_teams``); anyone else gets a
   403 page, for every page and every POST;
4. every POST must carry the CSRF token of its own URL (``csrf_for``), made under the console
   session's secret: a token for one form is refused by another.

``no_store`` (``after_request``) marks every console answer ``Cache-Control: no-store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import g, request
from werkzeug import Response

from dex_py.admin import console_session
from dex_py.admin.console_session import ConsoleLogin
from dex_py.admin.login import actor_of
from dex_py.connector_manager import LOCAL_ID
from dex_py.management.actor import Actor
from dex_py.management.errors import NotFound
from dex_py.management.users import get_user
from dex_py.ops.audit import FAILURE, audit
from dex_py.services import Services, services
from dex_py.storage.base import Session
from dex_py.web.csrf import csrf_token, csrf_valid
from dex_py.web.pages import render_page
from dex_py.web.session_cookie import touch

PUBLIC = frozenset({"admin.login", "admin.callback"})


@dataclass(frozen=True)
class Admin:
    """The admin making the current request."""

    login: ConsoleLogin
    actor: Actor

    @property
    def display_name(self) -> str:
        claims = self.login.session.claims
        return claims.email or claims.preferred_username or claims.username or claims.user_id


def current_teams(svc: Services, session: Session) -> tuple[str, ...]:
    """The user's teams now. A user of the password database has their groups read again and
    mapped by the team rules as they are now (a changed rule, group or deleted user counts at
    once); for an upstream connector, the teams its login mapped (its groups are not kept)."""
    claims = session.claims
    if session.connector_id != LOCAL_ID:
        return claims.groups
    try:
        user = get_user(svc, claims.email)
    except NotFound:
        return ()
    if user.user_id != claims.user_id:
        return ()  # the address belongs to another user now
    return svc.teams.map(LOCAL_ID, user.groups)


def is_admin(svc: Services, session: Session) -> bool:
    claims = session.claims
    return svc.admin_policy.is_admin(
        email=claims.email,
        email_verified=claims.email_verified,
        teams=current_teams(svc, session),
    )


def current_admin() -> Admin:
    """The admin of this request (set by ``check_access``)."""
    admin: Admin = g.dexpy_admin
    return admin


def csrf_purpose(path: str) -> bytes:
    return b"admin-console:" + path.encode()


def csrf_for(url: str) -> str:
    """The CSRF token of a form that posts to ``url`` (its path counts, not its query)."""
    return csrf_token(current_admin().login.csrf_key, csrf_purpose(urlsplit(url).path))


def check_access() -> Response | None:
    if request.endpoint in PUBLIC:
        return None
    svc = services()
    login = console_session.current(svc)
    if login is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else ""
        resp = Response(status=303 if request.method == "POST" else 302)
        query = urlencode({"next": target}) if target else ""
        resp.headers["Location"] = f"{svc.issuer}/admin/login" + (f"?{query}" if query else "")
        return resp
    session = login.session
    if not is_admin(svc, session):
        actor = actor_of(session)
        audit(
            "admin",
            FAILURE,
            actor=actor.name,
            action="console.refused",
            reason="not an admin",
            path=request.path[:200],
        )
        return render_page(
            "admin/forbidden.html",
            status=403,
            user_name=actor.email or session.claims.username or actor.id,
            end_session_url=f"{svc.issuer}/logout",
        )
    touch(svc, session)  # console use keeps the SSO session alive, like any login would
    g.dexpy_admin = Admin(login=login, actor=actor_of(session))
    if request.method == "POST":
        presented = request.form.get("csrf_token", "")
        if not csrf_valid(login.csrf_key, csrf_purpose(request.path), presented):
            return render_page(
                "error.html",
                status=400,
                title="Invalid form",
                message="The form has expired or did not come from this console. "
                "Please go back, reload the page and try again.",
            )
    return None


def no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers.setdefault("Pragma", "no-cache")
    return resp
