"""``/admin/connectors``: the connectors and whether each works right now; add one after
"test connection", edit, delete, each through ``dex_py.management.connectors`` (a stored
connector is opened by every worker within about a second, no restart). Connectors from
config.yaml (and the password DB's ``local``) are shown read-only. A connector's config is
typed as YAML; its secrets are shown as ``REDACTED``, and sending that back keeps them."""

from __future__ import annotations

from typing import Any

import yaml
from flask import abort, redirect, request, url_for
from werkzeug import Response

from connectors import known_types
from dex_py.admin import forms
from dex_py.admin.access import current_admin
from dex_py.admin.render import confirmed, field_errors, found, render_admin
from dex_py.management import connectors as ops
from dex_py.management.errors import Invalid, ManagementError
from dex_py.services import services

SECTION = "admin.connectors"
FORM_FIELDS = ("id", "type", "name", "config")
MAX_CONFIG = 32 * 1024


def _editable(connector_id: str) -> ops.ConnectorView:
    view = found(ops.get_connector, connector_id)
    if view.static:
        abort(404)
    return view


def config_text(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False) if config else ""


def parse_config(text: str) -> dict[str, Any]:
    """The YAML (or JSON) mapping typed into the form; ``Invalid`` naming the field if not."""
    if len(text) > MAX_CONFIG:
        raise Invalid([("config", f"at most {MAX_CONFIG // 1024} KiB")])
    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise Invalid([("config", f"not valid YAML{where}")]) from None
    if not isinstance(value, dict):
        raise Invalid([("config", "must be a mapping of keys to values")])
    return value


def _form(
    values: dict[str, str],
    *,
    creating: bool,
    errors: list[tuple[str, str]],
    version: str = "",
    tested: bool = False,
) -> Response:
    return render_admin(
        "admin/connector_form.html",
        section=SECTION,
        status=400 if errors else 200,
        creating=creating,
        values=values,
        errors=field_errors(_config_fields(errors)),
        shown_fields=FORM_FIELDS,
        version=version,
        tested=tested,
        types=[(t, t) for t in known_types()],
        action_url=request.path,
    )


def _config_fields(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Problems of the connector's own config (``host``, ``config.host``) go next to the
    config field, naming the key; the connection test's too."""
    out = []
    for field, message in errors:
        if field in FORM_FIELDS:
            out.append((field, message))
        elif field == "connection":
            out.append(("config", f"connection test: {message}"))
        else:
            out.append(("config", f"{field.removeprefix('config.')}: {message}"))
    return out


def list_view() -> Response:
    return render_admin(
        "admin/connectors.html",
        section=SECTION,
        connectors=ops.list_connectors(services()),
        notice=forms.notice(),
    )


def _submitted(connector_id: str = "") -> dict[str, str]:
    return {
        "id": connector_id or forms.text("id", 128),
        "type": forms.text("type", 64),
        "name": forms.text("name", 256),
        "config": request.form.get("config", "")[: MAX_CONFIG + 1],
    }


def new_view() -> Response:
    if request.method == "GET":
        return _form({"type": "ldap"}, creating=True, errors=[])
    values = _submitted()
    svc, actor = services(), current_admin().actor
    try:
        config = parse_config(values["config"])
        if request.form.get("action") == "test":
            ops.test_connector(svc, values["type"], config, connector_id=values["id"] or "trial")
            return _form(values, creating=True, errors=[], tested=True)
        ops.create_connector(svc, actor, values["id"], values["type"], values["name"], config)
    except ManagementError as exc:
        return _form(values, creating=True, errors=forms.errors_of(exc))
    return redirect(url_for(SECTION, done="created"), code=303)


def edit_view(connector_id: str) -> Response:
    view = _editable(connector_id)
    if request.method == "GET":
        values = {
            "id": view.id,
            "type": view.type,
            "name": view.name,
            "config": config_text(view.config),
        }
        return _form(values, creating=False, errors=[], version=view.version)
    values = _submitted(connector_id)
    version = forms.text("version", 128)
    svc, actor = services(), current_admin().actor
    try:
        config = parse_config(values["config"])
        if request.form.get("action") == "test":
            ops.test_connector(svc, values["type"], config, connector_id=connector_id)
            return _form(values, creating=False, errors=[], version=version, tested=True)
        ops.update_connector(
            svc,
            actor,
            connector_id,
            name=values["name"],
            type=values["type"],
            config=config,
            expected_version=version or None,
        )
    except ManagementError as exc:
        return _form(values, creating=False, errors=forms.errors_of(exc), version=version)
    return redirect(url_for(SECTION, done="saved"), code=303)


def delete_view(connector_id: str) -> Response:
    view = _editable(connector_id)

    def delete() -> Response:
        ops.delete_connector(services(), current_admin().actor, connector_id)
        return redirect(url_for(SECTION, done="deleted"), code=303)

    return confirmed(
        delete,
        section=SECTION,
        title=f"Delete connector {connector_id}?",
        message="Nobody can log in through it any more, and users who did can no longer "
        "refresh their tokens. This cannot be undone.",
        button="Delete the connector",
        cancel_url=url_for(SECTION),
        details={"Name": view.name, "Type": view.type},
    )
