"""The JSON admin API at ``{issuer}/admin/api/v1``, as one blueprint.

The same operations as the admin console (``dex_py.admin``), through the same functions
(``dex_py.management``), for automation: clients, connectors, users (local passwords), team
rules, sessions and refresh tokens, signing keys, the audit log and an overview. Callers
authenticate with a bearer token of the client_credentials grant with the scope
``dex-py:admin`` (``auth``), checked on every request; answers are JSON with
``Cache-Control: no-store``, refusals RFC 9457 problem details (``problems``); lists are
paginated and objects carry ETags (``rest``). ``ROUTES`` below is the URL map; the OpenAPI 3.1
document describing it (``openapi``) is served unauthenticated at ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, request
from werkzeug import Response
from werkzeug.exceptions import HTTPException

from dex_py.admin_api import (
    audit,
    clients,
    connectors,
    keys,
    openapi,
    overview,
    sessions,
    teams,
    users,
)
from dex_py.admin_api.auth import authenticate_request
from dex_py.admin_api.problems import (
    API_PATH,
    Problem,
    from_http,
    from_management,
    problem_response,
    unavailable,
    unexpected,
)
from dex_py.management.errors import ManagementError
from dex_py.services import services
from dex_py.storage import DATABASE_UNAVAILABLE

# (path under API_PATH, endpoint, view, methods): the public contract, described by ``openapi``
ROUTES: tuple[tuple[str, str, Callable[..., Response], tuple[str, ...]], ...] = (
    ("/openapi.json", "openapi", openapi.openapi_view, ("GET",)),
    ("/clients", "clients", clients.list_view, ("GET",)),
    ("/clients", "client_create", clients.create_view, ("POST",)),
    ("/clients/<client_id>", "client", clients.get_view, ("GET",)),
    ("/clients/<client_id>", "client_replace", clients.replace_view, ("PUT",)),
    ("/clients/<client_id>", "client_patch", clients.patch_view, ("PATCH",)),
    ("/clients/<client_id>", "client_delete", clients.delete_view, ("DELETE",)),
    ("/clients/<client_id>/secret", "client_secret", clients.rotate_secret_view, ("POST",)),
    ("/connectors", "connectors", connectors.list_view, ("GET",)),
    ("/connectors", "connector_create", connectors.create_view, ("POST",)),
    ("/connectors/<connector_id>", "connector", connectors.get_view, ("GET",)),
    ("/connectors/<connector_id>", "connector_replace", connectors.replace_view, ("PUT",)),
    ("/connectors/<connector_id>", "connector_patch", connectors.patch_view, ("PATCH",)),
    ("/connectors/<connector_id>", "connector_delete", connectors.delete_view, ("DELETE",)),
    ("/connector-tests", "connector_test", connectors.test_view, ("POST",)),
    ("/teams/rules", "team_rules", teams.rules_view, ("GET",)),
    ("/teams/rules", "team_rules_replace", teams.replace_rules_view, ("PUT",)),
    ("/teams/explain", "team_explain", teams.explain_view, ("POST",)),
    ("/users", "users", users.list_view, ("GET",)),
    ("/users", "user_create", users.create_view, ("POST",)),
    ("/users/<email>", "user", users.get_view, ("GET",)),
    ("/users/<email>", "user_replace", users.replace_view, ("PUT",)),
    ("/users/<email>", "user_patch", users.patch_view, ("PATCH",)),
    ("/users/<email>", "user_delete", users.delete_view, ("DELETE",)),
    ("/sessions", "sessions", sessions.list_sessions_view, ("GET",)),
    ("/sessions/<session_id>", "session_revoke", sessions.revoke_session_view, ("DELETE",)),
    ("/sessions/revoke-user", "revoke_user", sessions.revoke_user_view, ("POST",)),
    ("/refresh-tokens", "refresh_tokens", sessions.list_refresh_tokens_view, ("GET",)),
    (
        "/refresh-tokens/<token_id>",
        "refresh_token_revoke",
        sessions.revoke_refresh_token_view,
        ("DELETE",),
    ),
    ("/keys", "keys", keys.key_set_view, ("GET",)),
    ("/keys/rotate", "key_rotate", keys.rotate_view, ("POST",)),
    ("/audit", "audit", audit.query_view, ("GET",)),
    ("/audit/export", "audit_export", audit.export_view, ("GET",)),
    ("/overview", "overview", overview.overview_view, ("GET",)),
)
PUBLIC_ENDPOINTS = frozenset({"admin_api.openapi"})


def _authenticate() -> None:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        authenticate_request(services())


def _handle_http(exc: HTTPException) -> Response:
    return problem_response(from_http(exc))


def _handle_management(exc: ManagementError) -> Response:
    return problem_response(from_management(exc))


def _handle_database(exc: Exception) -> Response:
    return problem_response(unavailable(exc))


def _handle_unexpected(exc: Exception) -> Response:
    return problem_response(unexpected(exc))


def init_admin_api(app: Flask, issuer_path: str) -> Blueprint:
    """Register the API under ``{issuer_path}/admin/api/v1``. Routing errors under that prefix
    (404, 405) never reach the blueprint; ``error_handlers`` sends them to ``problems``."""
    bp = Blueprint("admin_api", __name__, url_prefix=issuer_path + API_PATH)
    for path, endpoint, view, methods in ROUTES:
        bp.add_url_rule(
            path, endpoint, view, methods=list(methods), provide_automatic_options=False
        )
    bp.before_request(_authenticate)
    bp.register_error_handler(Problem, problem_response)
    bp.register_error_handler(ManagementError, _handle_management)
    bp.register_error_handler(HTTPException, _handle_http)
    for exc_class in DATABASE_UNAVAILABLE:
        bp.register_error_handler(exc_class, _handle_database)
    bp.register_error_handler(Exception, _handle_unexpected)
    app.register_blueprint(bp)
    return bp
