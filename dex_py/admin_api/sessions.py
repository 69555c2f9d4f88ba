"""``/sessions`` and ``/refresh-tokens``: a user's SSO sessions and refresh tokens, listed per
user (``sub``, or ``user_id`` with ``connector_id``) or per client, revoked one by one or all of
a user's at once, through ``dex_py.management.sessions``. Ending a session starts
back-channel logout for the clients that got tokens in it; revoking a refresh token ends its
chain and the access tokens issued under it. No answer carries a token or a cookie secret.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug import Response

from dex_py.admin_api.auth import current_actor
from dex_py.admin_api.convert import to_json
from dex_py.admin_api.problems import invalid
from dex_py.admin_api.rest import json_body, json_response, no_content, paginate, query_text
from dex_py.management import sessions as ms
from dex_py.services import services

_FILTERS = ("sub", "user_id", "connector_id", "client_id")


def _filters() -> dict[str, str | None]:
    """The list filters of the query; ``sub`` stands for ``user_id`` and ``connector_id``."""
    given = {name: query_text(name) for name in _FILTERS}
    if given["sub"]:
        if given["user_id"] or given["connector_id"]:
            raise invalid([("sub", "give sub or user_id and connector_id, not both")])
        given["user_id"], given["connector_id"] = ms.user_of_sub(given["sub"])
    elif given["connector_id"] and not given["user_id"]:
        raise invalid([("connector_id", "only with user_id")])
    return {
        "user_id": given["user_id"] or None,
        "connector_id": given["connector_id"] if given["user_id"] else None,
        "client_id": given["client_id"] or None,
    }


def _newest_first(time_field: str) -> Callable[[Any], tuple[str, str]]:
    """The key of a list sorted most recent first, to page through it."""
    return lambda v: (getattr(v, time_field).isoformat(), v.id)


def list_sessions_view() -> Response:
    found = ms.list_sessions(services(), **_filters())
    return paginate(found, _newest_first("last_active"), to_json, descending=True)


def revoke_session_view(session_id: str) -> Response:
    deliveries = ms.revoke_session(services(), current_actor(), session_id)
    return json_response({"logout_deliveries": deliveries})


def list_refresh_tokens_view() -> Response:
    found = ms.list_refresh_tokens(services(), **_filters())
    return paginate(found, _newest_first("last_used"), to_json, descending=True)


def revoke_refresh_token_view(token_id: str) -> Response:
    ms.revoke_refresh_token(services(), current_actor(), token_id)
    return no_content()


def revoke_user_view() -> Response:
    """Everything of one user: ``{"sub": ...}`` or ``{"user_id": ..., "connector_id": ...}``."""
    body = json_body()
    errors = [(k, "unknown field") for k in body if k not in ("sub", "user_id", "connector_id")]
    errors += [(k, "must be a string") for k, v in body.items() if not isinstance(v, str)]
    if errors:
        raise invalid(errors)
    if "sub" in body:
        if "user_id" in body or "connector_id" in body:
            raise invalid([("sub", "give sub or user_id and connector_id, not both")])
        user_id, connector_id = ms.user_of_sub(body["sub"])
    else:
        missing = [(k, "required") for k in ("user_id", "connector_id") if k not in body]
        if missing:
            raise invalid(missing)
        user_id, connector_id = body["user_id"], body["connector_id"]
    result = ms.revoke_user(services(), current_actor(), user_id, connector_id)
    return json_response(to_json(result))
