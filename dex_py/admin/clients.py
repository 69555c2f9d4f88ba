"""``/admin/clients``: the OAuth2 clients: list, details, create (the secret is shown once),
edit, delete and rotate the secret, each change through ``dex_py.management.clients``.

Clients from config.yaml, and the console's own (``built-in``), are shown read-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, redirect, request, url_for
from werkzeug import Response

from dex_py.admin import forms
from dex_py.admin.access import current_admin
from dex_py.admin.login import CLIENT_ID as CONSOLE_CLIENT
from dex_py.admin.render import confirmed, field_errors, found, refused, render_admin
from dex_py.management import clients as ops
from dex_py.management.client_rules import ClientSpec
from dex_py.management.errors import ManagementError
from dex_py.services import services

SECTION = "admin.clients"
LIST_FIELDS = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "trusted_peers",
    "allowed_connectors",
    "allowed_groups",
    "grant_types",
)
TEXT_FIELDS = (
    "name",
    "logo_url",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "backchannel_logout_uri",
)
FLAG_FIELDS = ("public", "skip_approval")
FORM_FIELDS = ("id", *TEXT_FIELDS, *LIST_FIELDS, *FLAG_FIELDS)
AUTH_METHODS = (
    ("", "client_secret_basic or client_secret_post"),
    ("client_secret_basic", "client_secret_basic"),
    ("client_secret_post", "client_secret_post"),
    ("private_key_jwt", "private_key_jwt (JWK Set)"),
    ("none", "none (public client)"),
)


def source_of(view: ops.ClientView) -> str:
    """``built-in`` (the console's own), ``config`` (config.yaml) or ``stored``."""
    if view.id == CONSOLE_CLIENT:
        return "built-in"
    return "config" if view.static else "stored"


def _editable(client_id: str) -> ops.ClientView:
    view = found(ops.get_client, client_id)
    if source_of(view) != "stored":
        abort(404)  # read-only: no edit, delete or rotation pages
    return view


def _spec_from_form(client_id: str = "") -> ClientSpec:
    values: dict[str, Any] = {name: forms.text(name, 16384) for name in TEXT_FIELDS}
    values.update({name: forms.lines(name) for name in LIST_FIELDS})
    values.update({name: forms.checked(name) for name in FLAG_FIELDS})
    return ClientSpec(id=client_id or forms.text("id", 255), **values)


def _form_values(spec: ClientSpec) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(spec, name) for name in (*TEXT_FIELDS, *FLAG_FIELDS)}
    values.update({name: "\n".join(getattr(spec, name)) for name in LIST_FIELDS})
    values["id"] = spec.id
    return values


def _form(
    spec: ClientSpec, *, creating: bool, errors: list[tuple[str, str]], version: str = ""
) -> Response:
    return render_admin(
        "admin/client_form.html",
        section=SECTION,
        status=400 if errors else 200,
        creating=creating,
        values=_form_values(spec),
        errors=field_errors(errors),
        shown_fields=FORM_FIELDS,
        version=version,
        auth_methods=AUTH_METHODS,
        action_url=request.path,
    )


def list_view() -> Response:
    svc = services()
    rows = [{"client": c, "source": source_of(c)} for c in ops.list_clients(svc)]
    return render_admin("admin/clients.html", section=SECTION, rows=rows, notice=forms.notice())


def detail_view(client_id: str) -> Response:
    view = found(ops.get_client, client_id)
    return render_admin(
        "admin/client.html",
        section=SECTION,
        client=view,
        source=source_of(view),
        notice=forms.notice(),
    )


def new_view() -> Response:
    if request.method == "GET":
        return _form(ClientSpec(), creating=True, errors=[])
    spec = _spec_from_form()
    try:
        created, secret = ops.create_client(services(), current_admin().actor, spec)
    except ManagementError as exc:
        return _form(spec, creating=True, errors=forms.errors_of(exc))
    return render_admin("admin/client_secret.html", section=SECTION, client=created, secret=secret)


def edit_view(client_id: str) -> Response:
    view = _editable(client_id)
    if request.method == "GET":
        return _form(view.spec, creating=False, errors=[], version=view.version)
    spec = _spec_from_form(client_id)
    changes = {name: getattr(spec, name) for name in (*TEXT_FIELDS, *LIST_FIELDS, *FLAG_FIELDS)}
    version = forms.text("version", 128)
    try:
        ops.update_client(
            services(), current_admin().actor, client_id, changes, expected_version=version or None
        )
    except ManagementError as exc:
        return _form(spec, creating=False, errors=forms.errors_of(exc), version=version)
    return redirect(url_for("admin.client", client_id=client_id, done="saved"), code=303)


def delete_view(client_id: str) -> Response:
    view = _editable(client_id)

    def delete() -> Response:
        ops.delete_client(services(), current_admin().actor, client_id)
        return redirect(url_for("admin.clients", done="deleted"), code=303)

    return confirmed(
        delete,
        section=SECTION,
        title=f"Delete client {client_id}?",
        message="Its applications can no longer log users in, and every refresh token "
        "issued to it is revoked. This cannot be undone.",
        button="Delete the client",
        cancel_url=url_for("admin.client", client_id=client_id),
        details={"Name": view.name or "—", "Redirect URIs": ", ".join(view.redirect_uris)},
    )


GRACE_CHOICES = (
    ("0", "no grace: the old secret stops now"),
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "7 days"),
)


def rotate_view(client_id: str) -> Response:
    view = _editable(client_id)
    if not view.has_secret:
        abort(404)

    def rotate() -> Response:
        grace = request.form.get("grace", "")
        if grace not in dict(GRACE_CHOICES):
            return refused(SECTION, ["Choose a grace period from the list."])
        secret = ops.rotate_client_secret(
            services(), current_admin().actor, client_id, timedelta(seconds=int(grace))
        )
        return render_admin(
            "admin/client_secret.html", section=SECTION, client=view, secret=secret, rotated=True
        )

    return confirmed(
        rotate,
        section=SECTION,
        title=f"Rotate the secret of {client_id}?",
        message="A new secret is made and shown once. The current one keeps working for "
        "the grace period you choose, so the application can switch over.",
        button="Rotate the secret",
        cancel_url=url_for("admin.client", client_id=client_id),
        choice=("grace", "Grace period", GRACE_CHOICES, "86400"),
    )
