"""``/users``: users of the built-in password database, through ``dex_py.management.users``.

A password is write-only: it is sent to create a user or to change it, and never answered
(nor its hash). Users from ``staticPasswords`` in config.yaml are listed with
``static: true`` and refuse changes (409).
"""

from __future__ import annotations

from flask import url_for
from werkzeug import Response

from dex_py.admin_api.auth import current_actor
from dex_py.admin_api.convert import changes_from_json, spec_from_json, to_json
from dex_py.admin_api.problems import invalid
from dex_py.admin_api.rest import (
    if_match,
    json_body,
    merge_patch_body,
    no_content,
    object_response,
    paginate,
)
from dex_py.management import users as mu
from dex_py.services import services


def list_view() -> Response:
    return paginate(mu.list_users(services()), lambda u: (u.email,), to_json)


def get_view(email: str) -> Response:
    return object_response(mu.get_user(services(), email))


def create_view() -> Response:
    spec = spec_from_json(mu.UserSpec, json_body())
    view = mu.create_user(services(), current_actor(), spec)
    resp = object_response(view, 201)
    resp.headers["Location"] = url_for("admin_api.user", email=view.email)
    return resp


def replace_view(email: str) -> Response:
    """Every changeable setting at once; ``password`` left out keeps the current one."""
    changes = changes_from_json(mu.UserSpec, json_body(), mu.CHANGEABLE)
    if "username" not in changes:
        raise invalid([("username", "required")])
    changes.setdefault("groups", ())
    expected = if_match()
    view = mu.update_user(services(), current_actor(), email, changes, expected_version=expected)
    return object_response(view)


def patch_view(email: str) -> Response:
    changes = changes_from_json(mu.UserSpec, merge_patch_body(), mu.CHANGEABLE)
    expected = if_match()
    view = mu.update_user(services(), current_actor(), email, changes, expected_version=expected)
    return object_response(view)


def delete_view(email: str) -> Response:
    expected = if_match()
    mu.delete_user(services(), current_actor(), email, expected_version=expected)
    return no_content()
