"""``/admin/users``: the users of the built-in password database: list, create, edit (username,
groups, a new password), delete, each change through ``dex_py.management.users``. Users of
``staticPasswords`` in config.yaml are shown read-only."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from werkzeug import Response

from dex_py.admin import forms
from dex_py.admin.access import current_admin
from dex_py.admin.render import confirmed, field_errors, found, render_admin
from dex_py.management import users as ops
from dex_py.management.errors import ManagementError
from dex_py.services import services

SECTION = "admin.users"
FORM_FIELDS = ("email", "username", "password", "user_id", "groups")


def _editable(email: str) -> ops.UserView:
    view = found(ops.get_user, email)
    if view.static:
        abort(404)
    return view


def _form(
    values: dict[str, Any], *, creating: bool, errors: list[tuple[str, str]], version: str = ""
) -> Response:
    return render_admin(
        "admin/user_form.html",
        section=SECTION,
        status=400 if errors else 200,
        creating=creating,
        values=values,
        errors=field_errors(errors),
        shown_fields=FORM_FIELDS,
        version=version,
        action_url=request.path,
    )


def list_view() -> Response:
    svc = services()
    return render_admin(
        "admin/users.html",
        section=SECTION,
        users=ops.list_users(svc),
        password_db=svc.config.enable_password_db,
        notice=forms.notice(),
    )


def new_view() -> Response:
    if request.method == "GET":
        return _form({}, creating=True, errors=[])
    spec = ops.UserSpec(
        email=forms.text("email", 320),
        username=forms.text("username", 256),
        password=request.form.get("password", "")[:1024],
        user_id=forms.text("user_id", 256),
        groups=forms.lines("groups"),
    )
    shown = {
        "email": spec.email,
        "username": spec.username,
        "user_id": spec.user_id,
        "groups": "\n".join(spec.groups),
    }
    try:
        ops.create_user(services(), current_admin().actor, spec)
    except ManagementError as exc:
        return _form(shown, creating=True, errors=forms.errors_of(exc, id_field="email"))
    return redirect(url_for(SECTION, done="created"), code=303)


def edit_view(email: str) -> Response:
    view = _editable(email)
    shown = {"email": view.email, "username": view.username, "user_id": view.user_id}
    if request.method == "GET":
        shown["groups"] = "\n".join(view.groups)
        return _form(shown, creating=False, errors=[], version=view.version)
    changes: dict[str, Any] = {
        "username": forms.text("username", 256),
        "groups": forms.lines("groups"),
    }
    password = request.form.get("password", "")[:1024]
    if password:
        changes["password"] = password
    version = forms.text("version", 128)
    try:
        ops.update_user(
            services(), current_admin().actor, view.email, changes, expected_version=version or None
        )
    except ManagementError as exc:
        shown.update(username=changes["username"], groups="\n".join(changes["groups"]))
        return _form(shown, creating=False, errors=forms.errors_of(exc), version=version)
    return redirect(url_for(SECTION, done="saved"), code=303)


def delete_view(email: str) -> Response:
    view = _editable(email)

    def delete() -> Response:
        ops.delete_user(services(), current_admin().actor, view.email)
        return redirect(url_for(SECTION, done="deleted"), code=303)

    return confirmed(
        delete,
        section=SECTION,
        title=f"Delete {view.email}?",
        message="The user can no longer log in, and their sessions and refresh tokens are "
        "revoked (applications are told through back-channel logout).",
        button="Delete the user",
        cancel_url=url_for(SECTION),
        details={"Username": view.username, "User id": view.user_id},
    )
