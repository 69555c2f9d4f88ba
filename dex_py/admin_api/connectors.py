"""``/connectors``: upstream identity providers, through ``dex_py.management.connectors``.

A connector is opened and its upstream asked before it is stored or changed (a refusal is a
400 naming what is wrong); ``POST /connector-tests`` runs that test alone. Secrets in a
connector's config are answered as a placeholder, and sending the placeholder back keeps the
stored value. Connectors from config.yaml (and the password DB's ``local``) are listed with
``static: true`` and refuse changes (409).
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from werkzeug import Response

from dex_py.admin_api.auth import current_actor
from dex_py.admin_api.convert import to_json
from dex_py.admin_api.problems import invalid
from dex_py.admin_api.rest import (
    if_match,
    json_body,
    json_response,
    merge_patch_body,
    no_content,
    object_response,
    paginate,
)
from dex_py.management import connectors as mcn
from dex_py.services import services

_KINDS = {"id": str, "type": str, "name": str, "config": dict}


def _fields(
    body: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, Any]:
    """The fields of ``body``, each of ``allowed`` and of its JSON type, ``required`` present."""
    errors = [(k, "unknown field") for k in body if k not in allowed]
    for name in allowed:
        if name in body and not isinstance(body[name], _KINDS[name]):
            kind = "an object" if _KINDS[name] is dict else "a string"
            errors.append((name, f"must be {kind}"))
    errors += [(name, "required") for name in required if name not in body]
    if errors:
        raise invalid(errors)
    return {k: body[k] for k in allowed if k in body}


def list_view() -> Response:
    return paginate(mcn.list_connectors(services()), lambda c: (c.id,), to_json)


def get_view(connector_id: str) -> Response:
    return object_response(mcn.get_connector(services(), connector_id))


def create_view() -> Response:
    fields = _fields(json_body(), ("id", "type", "name", "config"), ("id", "type", "name"))
    view = mcn.create_connector(
        services(),
        current_actor(),
        fields["id"],
        fields["type"],
        fields["name"],
        fields.get("config", {}),
    )
    resp = object_response(view, 201)
    resp.headers["Location"] = url_for("admin_api.connector", connector_id=view.id)
    return resp


def _update(connector_id: str, fields: dict[str, Any]) -> Response:
    if fields.pop("id", connector_id) != connector_id:
        raise invalid([("id", "must match the URL")])
    expected = if_match()
    view = mcn.update_connector(
        services(), current_actor(), connector_id, expected_version=expected, **fields
    )
    return object_response(view)


def replace_view(connector_id: str) -> Response:
    """Type, name and config at once (secret placeholders keep the stored values)."""
    fields = _fields(json_body(), ("id", "type", "name", "config"), ("type", "name", "config"))
    return _update(connector_id, fields)


def patch_view(connector_id: str) -> Response:
    fields = _fields(merge_patch_body(), ("type", "name", "config"), ())
    if not fields:
        raise invalid([("", "name at least one field to change")])
    return _update(connector_id, fields)


def delete_view(connector_id: str) -> Response:
    expected = if_match()
    mcn.delete_connector(services(), current_actor(), connector_id, expected_version=expected)
    return no_content()


def test_view() -> Response:
    """Open a connector of ``type`` with ``config`` and ask its upstream; nothing is stored."""
    fields = _fields(json_body(), ("type", "config"), ("type", "config"))
    mcn.test_connector(services(), fields["type"], fields["config"])
    return json_response({"ok": True})
