"""The admin console at ``{issuer}/admin`` (issue 12, item 2): server-rendered pages to see
and change clients, connectors, users, team rules, sessions, signing keys and the audit log.

Admins log in through dex-py itself (``login``: the console is a relying party of its own
issuer); every request is checked by ``access`` (console session, the ``admin`` policy, CSRF
on every POST) and answered ``Cache-Control: no-store``. Every change goes through
``dex_py.management``, the one implementation behind the console and the APIs.

URL map (under ``/admin``): ``/login``, ``/callback``, ``/logout``; ``""`` the overview.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from dex_py.admin import (
    access,
    audit,
    clients,
    connectors,
    keys,
    login,
    overview,
    sessions,
    teams,
    users,
)


def init_admin(app: Flask, issuer_path: str) -> Blueprint:
    bp = Blueprint("admin", __name__, url_prefix=f"{issuer_path}/admin")
    bp.before_request(access.check_access)
    bp.after_request(access.no_store)
    bp.add_url_rule("/login", "login", login.login_view, methods=["GET"])
    bp.add_url_rule("/callback", "callback", login.callback_view, methods=["GET"])
    bp.add_url_rule("/logout", "logout", login.logout_view, methods=["POST"])
    bp.add_url_rule("", "overview", overview.overview_view, methods=["GET"])
    bp.add_url_rule("/clients", "clients", clients.list_view, methods=["GET"])
    bp.add_url_rule("/clients/<client_id>", "client", clients.detail_view, methods=["GET"])
    bp.add_url_rule("/connectors", "connectors", connectors.list_view, methods=["GET"])
    bp.add_url_rule("/users", "users", users.list_view, methods=["GET"])
    bp.add_url_rule("/teams", "teams", teams.list_view, methods=["GET"])
    bp.add_url_rule("/sessions", "sessions", sessions.list_view, methods=["GET"])
    bp.add_url_rule("/keys", "keys", keys.list_view, methods=["GET"])
    bp.add_url_rule("/audit", "audit", audit.list_view, methods=["GET"])
    app.register_blueprint(bp)
    return bp
