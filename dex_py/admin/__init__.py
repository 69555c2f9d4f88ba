"""The admin console at ``{issuer}/admin`` (issue 12, item 2): server-rendered pages to see
and change clients, connectors, users, team rules, sessions, signing keys and the audit log.

Admins log in through dex-py itself (``login``: the console is a relying party of its own
issuer); every request is checked by ``access`` (console session, the ``admin`` policy, CSRF
on every POST) and answered ``Cache-Control: no-store``. Every change goes through
``dex_py.management``, the one implementation behind the console and the APIs.

URL map (under ``/admin``): ``/login``, ``/callback``, ``/logout``; ``""`` the overview; per
section a list, ``/new`` (a form), ``/<id>/edit`` (a form) and ``/<id>/delete`` (a
confirmation page and its POST), as below.
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
    both = ["GET", "POST"]  # a form, or a confirmation page, and its POST
    bp.add_url_rule("/clients", "clients", clients.list_view, methods=["GET"])
    bp.add_url_rule("/clients/new", "new_client", clients.new_view, methods=both)
    bp.add_url_rule("/clients/<client_id>", "client", clients.detail_view, methods=["GET"])
    bp.add_url_rule("/clients/<client_id>/edit", "edit_client", clients.edit_view, methods=both)
    bp.add_url_rule(
        "/clients/<client_id>/delete", "delete_client", clients.delete_view, methods=both
    )
    bp.add_url_rule(
        "/clients/<client_id>/rotate", "rotate_client", clients.rotate_view, methods=both
    )
    bp.add_url_rule("/connectors", "connectors", connectors.list_view, methods=["GET"])
    bp.add_url_rule("/connectors/new", "new_connector", connectors.new_view, methods=both)
    bp.add_url_rule(
        "/connectors/<connector_id>/edit", "edit_connector", connectors.edit_view, methods=both
    )
    bp.add_url_rule(
        "/connectors/<connector_id>/delete",
        "delete_connector",
        connectors.delete_view,
        methods=both,
    )
    bp.add_url_rule("/users", "users", users.list_view, methods=["GET"])
    bp.add_url_rule("/users/new", "new_user", users.new_view, methods=both)
    bp.add_url_rule("/users/<email>/edit", "edit_user", users.edit_view, methods=both)
    bp.add_url_rule("/users/<email>/delete", "delete_user", users.delete_view, methods=both)
    bp.add_url_rule("/teams", "teams", teams.list_view, methods=["GET"])
    bp.add_url_rule("/teams/rules", "save_team_rules", teams.save_rules_view, methods=["POST"])
    bp.add_url_rule("/sessions", "sessions", sessions.list_view, methods=["GET"])
    bp.add_url_rule(
        "/sessions/<session_id>/end", "revoke_session", sessions.revoke_session_view, methods=both
    )
    bp.add_url_rule(
        "/refresh-tokens/<token_id>/revoke",
        "revoke_token",
        sessions.revoke_token_view,
        methods=both,
    )
    bp.add_url_rule("/sessions/revoke-user", "revoke_user", sessions.revoke_user_view, methods=both)
    bp.add_url_rule("/keys", "keys", keys.list_view, methods=["GET"])
    bp.add_url_rule("/keys/rotate", "rotate_keys", keys.rotate_view, methods=both)
    bp.add_url_rule("/audit", "audit", audit.list_view, methods=["GET"])
    app.register_blueprint(bp)
    return bp
